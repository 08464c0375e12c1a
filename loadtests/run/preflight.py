"""Everything checked before any load is sent, and the one request set every target gets.

For each target (in the order given): it is reachable and serves the model (its kind's
`metadata`); every target that states a signature states the same one; the requests are built
once (from `--inputs` or generated from the signature) and saved as the request set; then one
trial request per target, through the same encoding the load uses, must come back readable (a
`torchserve://` handler that expects another payload fails here). Any problem: PreflightError,
one line naming the target and what to do; nothing has been loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import psutil

from client.messages import ModelMetadata
from client.parity.signature import signature_differences

from ..generator.inputs import RequestPool, build_pool, save_request_set
from ..targets import CallError, Target, TargetError, kind_of, parse_url

PREFLIGHT_TIMEOUT_S = 5.0
TRIAL_TIMEOUT_S = 30.0
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]", "0.0.0.0"}


class PreflightError(Exception):
    """The comparison cannot start: bad input, a target down or not ready, a model missing."""


def make_target(name: str, url: str, pid: int | None = None) -> Target:
    """A Target with the process to sample: `pid` when given, else the local one listening on its port."""
    try:
        target = parse_url(name, url)
    except ValueError as e:
        raise PreflightError(str(e)) from None
    if pid is not None:
        if pid <= 0 or not psutil.pid_exists(pid):
            raise PreflightError(f"target {name}: pid {pid}: no such process on this machine")
        return Target(target.name, target.kind, target.address, target.params, pid, "given")
    found = listening_pid(target.address)
    return Target(target.name, target.kind, target.address, target.params, found,
                  f"found listening on {target.address}" if found else "")


def listening_pid(address: str) -> int | None:
    """The local process listening on a loopback address's port, when the OS lets us see it."""
    host, _, port = address.rpartition(":")
    if host not in LOOPBACK:
        return None
    try:
        conns = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, OSError):
        return None
    for c in conns:
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == int(port) and c.pid:
            return c.pid
    return None


def _rename(diff: str, a: str, b: str) -> str:
    return diff.replace(" on A", f" on {a}").replace(" on B", f" on {b}")


def check_targets(targets: list[Target], model: str, version: str = "") -> ModelMetadata | None:
    """Every target reachable with the model; the stated signatures agree. The first stated one."""
    metas: dict[str, ModelMetadata] = {}
    for t in targets:
        try:
            meta = kind_of(t).metadata(t, model, version, PREFLIGHT_TIMEOUT_S)
        except TargetError as e:
            raise PreflightError(str(e)) from None
        if meta is not None:
            metas[t.name] = meta
    names = list(metas)
    for other in names[1:]:
        diffs = signature_differences(metas[names[0]], metas[other])
        if diffs:
            listed = "; ".join(_rename(d, names[0], other) for d in diffs)
            raise PreflightError(f"model '{model}' has different signatures on {names[0]} and {other}, so "
                                 f"the same requests cannot go to both: {listed}")
    return metas[names[0]] if names else None


def build_requests(meta: ModelMetadata | None, *, batch_size: int, inputs: str, seed: int,
                   version: str = "") -> RequestPool:
    if meta is None:
        raise PreflightError("no target states the model's signature (torchserve:// cannot): add a grpc:// or "
                             "tfserving:// target serving the same model")
    try:
        return build_pool(meta, batch_size=batch_size, inputs=inputs, seed=seed, version=version)
    except ValueError as e:
        raise PreflightError(str(e)) from None


def trial(targets: list[Target], pool: RequestPool, meta: ModelMetadata, model: str, version: str) -> None:
    """One request per target through the load's own encoding; PreflightError when one fails."""
    for t in targets:
        caller = kind_of(t).open(t, model, version, meta, TRIAL_TIMEOUT_S)
        try:
            response, _ = caller.call(caller.encode(pool.inputs[0]), TRIAL_TIMEOUT_S)
            caller.decode(response)
        except CallError as e:
            hint = {"torchserve": " Check ?model= and that the handler takes ?encoding= "
                                  f"({t.params.get('encoding', 'json')}; see loadtests/README.md)."}
            raise PreflightError(f"{t.where()}: a trial request for '{model}' failed: {e.code}: "
                                 f"{e.message.splitlines()[0] if e.message else ''}.{hint.get(t.kind, '')}") from None
        finally:
            caller.close()


def prepare(targets: list[Target], *, model: str, version: str, batch_size: int, inputs: str, seed: int,
            out_dir: Path) -> tuple[RequestPool, ModelMetadata, Path]:
    """(pool, signature, request set path) after every check passed."""
    meta = check_targets(targets, model, version)
    pool = build_requests(meta, batch_size=batch_size, inputs=inputs, seed=seed, version=version)
    meta = cast(ModelMetadata, meta)  # build_requests refused None with a PreflightError
    trial(targets, pool, meta, model, version)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = save_request_set(pool, meta, out_dir / "requests.npz")
    except OSError as e:
        raise PreflightError(f"--out {out_dir}: cannot write to it ({e.strerror})") from None
    return pool, meta, path
