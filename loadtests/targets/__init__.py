"""The one registry of target kinds: a URL scheme -> how to talk to that server.

    grpc://HOST:PORT          any OIP v2 gRPC server (the default when no scheme is given)
    http://HOST:PORT          any OIP v2 REST server (?encoding=json|binary)
    torchserve://HOST:PORT    TorchServe's gRPC inference API (?model=NAME&encoding=json|npy)
    tfserving://HOST:PORT     TF Serving's PredictionService (?signature=NAME&model=NAME)

`parse_target("NAME=URL")` / `parse_url(name, url)` make a Target (ValueError with a one-line
message otherwise); `kind_of(target)` its Kind. compare, the main job, the compose job and the
Locust users all go through here; a new kind is one module and one line in KINDS.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

from .base import Caller, CallError, Kind, Target, TargetError
from .oip import OipKind
from .rest import RestKind
from .tfserving import TfServingKind
from .torchserve import TorchServeKind

KINDS: dict[str, Kind] = {k.scheme: k for k in (OipKind(), RestKind(), TorchServeKind(), TfServingKind())}
DEFAULT_SCHEME = "grpc"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,31}$")

__all__ = ["KINDS", "CallError", "Caller", "Kind", "Target", "TargetError", "kind_of", "parse_target",
           "parse_url", "schemes_help"]


def schemes_help() -> str:
    return "; ".join(f"{s}:// {k.summary}" for s, k in KINDS.items())


def parse_url(name: str, url: str, pid: int | None = None, pid_source: str = "") -> Target:
    """A Target from `[scheme://]HOST:PORT[?key=value&...]`; ValueError naming `name` otherwise."""
    if not _NAME.match(name or ""):
        raise ValueError(f"target name {name!r}: use a letter then letters, digits, '_', '.' or '-' "
                         "(at most 32), e.g. torch=grpc://127.0.0.1:8001")
    raw = (url or "").strip()
    parts = urlsplit(raw if "://" in raw else f"{DEFAULT_SCHEME}://{raw}")
    kind = KINDS.get(parts.scheme)
    if kind is None:
        raise ValueError(f"target {name}: {url!r} has an unsupported scheme {parts.scheme!r}; expected "
                         f"{', '.join(s + '://' for s in KINDS)} (or HOST:PORT for grpc://)")
    host, port = parts.hostname, None
    try:
        port = parts.port
    except ValueError:
        pass
    if not host or not port or parts.path not in ("", "/"):
        raise ValueError(f"target {name}: {url!r} is not [{parts.scheme}://]HOST:PORT (e.g. 127.0.0.1:8001)")
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(params) - set(kind.params))
    if unknown:
        known = ", ".join(kind.params) or "none"
        raise ValueError(f"target {name}: {parts.scheme}:// takes no parameter {', '.join(unknown)} "
                         f"(it takes: {known})")
    try:
        kind.check_params(params)
    except ValueError as e:
        raise ValueError(f"target {name}: {e}") from None
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return Target(name, parts.scheme, address, params, pid, pid_source)


def parse_target(spec: str) -> Target:
    """`NAME=URL` (as given to --target)."""
    name, sep, url = (spec or "").partition("=")
    if not sep:
        raise ValueError(f"--target {spec!r}: expected NAME=URL, e.g. torch=grpc://127.0.0.1:8001")
    return parse_url(name.strip(), url)


def kind_of(target: Target) -> Kind:
    return KINDS[target.kind]
