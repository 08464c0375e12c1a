"""A real torch_service (`python -m torch_service`, started with server_core.launch.ServiceProcess)
serving the echo servers' `add_sub` (OUTPUT0 = INPUT0 + INPUT1, OUTPUT1 = INPUT0 - INPUT1, a
TorchScript archive built here) over gRPC and over OIP v2 REST (`--http-port`), both on free
loopback ports (port 0: the service binds them and names them on its READY line, so no other
process can take them in between): the same service behind two target kinds. Always stopped
(SIGTERM, then its process group killed)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from tests.support.process import python_module

START_TIMEOUT_S = 120.0


def add_sub_store(work: Path) -> Path:
    from tests.torch_service.models import ADD_SUB_TENSORS, AddSub, save_torchscript  # imports torch
    from torch_service.archive import build_archive

    store = work / "store"
    build_archive(store / "add_sub.mar", model_name="add_sub", version="1",
                  serialized_file=save_torchscript(AddSub(0.0), work / "add_sub.pt"),
                  config={"batchSize": 8, "maxBatchDelay": 2, "tensors": ADD_SUB_TENSORS})
    return store


@contextlib.contextmanager
def torch_service_with_rest(work: Path) -> Iterator[tuple[str, str, int]]:
    """Yields (gRPC address, REST address, pid) of one torch_service serving add_sub."""
    service = python_module("torch_service", "--model-store", str(add_sub_store(work)), "--host", "127.0.0.1",
                            "--port", "0", "--http-port", "0", "--metrics-port", "-1", ready_timeout=START_TIMEOUT_S,
                            log_path=work / "torch_service.log", name="torch_service")
    with service:
        (ready,) = [line for line in service.log_tail(10_000).splitlines() if line.startswith("READY ")]
        http = dict(part.split("=", 1) for part in ready.split()[2:])["http"]  # READY grpc-address http=address
        yield service.address, http, service.pid
