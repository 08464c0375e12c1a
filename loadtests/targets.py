"""The services a comparison loads, and the checks made before any load is sent."""

from __future__ import annotations

from dataclasses import dataclass

import psutil

from client.errors import InferenceError, NotFoundError
from client.messages import ModelMetadata
from client.parity.signature import signature_differences
from client.sync import InferenceClient

from .inputs import build_pool
from .options import parse_target

PREFLIGHT_TIMEOUT_S = 5.0
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]", "0.0.0.0"}


class PreflightError(Exception):
    """The comparison cannot start: bad input, a target down or not ready, a model missing."""


@dataclass
class Service:
    name: str  # "torch", "tf"
    address: str  # HOST:PORT
    pid: int | None = None  # the service's process, for CPU/memory sampling
    pid_source: str = ""  # "given", "found listening on port N", or ""

    @classmethod
    def parse(cls, name: str, target: str, pid: int | None = None) -> Service:
        try:
            address = parse_target(target, f"--{name}")
        except ValueError as e:
            raise PreflightError(str(e)) from None
        if pid is not None:
            if pid <= 0 or not psutil.pid_exists(pid):
                raise PreflightError(f"--{name}-pid {pid}: no such process on this machine")
            return cls(name, address, pid, "given")
        found = listening_pid(address)
        return cls(name, address, found, f"found listening on {address}" if found else "")


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


def check_service(service: Service, model: str, version: str = "",
                  timeout: float = PREFLIGHT_TIMEOUT_S) -> ModelMetadata:
    """The model's metadata on one service; PreflightError saying what is wrong there."""
    where = f"{service.name} ({service.address})"
    with InferenceClient(service.address, timeout=timeout, max_attempts=1) as client:
        try:
            if not client.is_server_live():
                raise PreflightError(f"{where} says it is not live")
        except InferenceError as e:
            raise PreflightError(f"{where} is not reachable: {e.code.name}: {e.message}. Is the service "
                                 "running on that address?") from None
        try:
            if not client.is_server_ready():
                raise PreflightError(f"{where} is up but not ready (still loading?); try again when "
                                     "its readiness check passes")
            meta = client.model_metadata(model, version or None)
            if not client.is_model_ready(model, version or None):
                raise PreflightError(f"{where}: model '{model}' is known but not ready")
        except NotFoundError as e:
            raise PreflightError(f"{where} does not serve model '{model}'"
                                 f"{' version ' + version if version else ''}: {e.message}") from None
        except InferenceError as e:
            raise PreflightError(f"{where}: {e.code.name}: {e.message}") from None
    return meta


def check_services(services: list[Service], model: str, version: str = "") -> dict[str, ModelMetadata]:
    """Every service serves the model, with the same signature; PreflightError otherwise."""
    metas = {s.name: check_service(s, model, version) for s in services}
    first = services[0]
    for other in services[1:]:
        diffs = signature_differences(metas[first.name], metas[other.name])
        if diffs:
            listed = "; ".join(d.replace(" on A", f" on {first.name}").replace(" on B", f" on {other.name}")
                               for d in diffs)
            raise PreflightError(f"model '{model}' has different signatures on {first.name} and "
                                 f"{other.name}, so the same requests cannot go to both: {listed}")
    return metas


def check_inputs(meta: ModelMetadata, *, batch_size: int, inputs: str, seed: int, version: str = "") -> str:
    """Build the request pool once here, so a bad inputs file fails before any load; its description."""
    try:
        return build_pool(meta, batch_size=batch_size, inputs=inputs, seed=seed, version=version).description
    except ValueError as e:
        raise PreflightError(str(e)) from None
