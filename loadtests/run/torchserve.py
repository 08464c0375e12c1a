"""Start a stock TorchServe (0.12: Java frontend + Python workers) on loopback and wait until a model
answers: the one launcher the benchmark (bench/peers.py) and the torchserve:// target's tests use.

    with stock_torchserve(work, store, "mlp.mar", answers) as ts:
        ts.address, ts.pid   # "127.0.0.1:PORT" (gRPC inference API); the process group's leader

Every port is a free loopback port; config.properties, logs and TMPDIR (where TorchServe keeps its
pid file, refusing to start beside another TorchServe otherwise) live in `work`. `answers(address)`
returns True once the model serves a request; it is polled until `timeout_s`. On exit the whole
process group (frontend and workers) gets SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from server_core.launch import stop_group

BIN = Path(sys.executable).parent  # torchserve and torch-model-archiver come with the venv
POLL_S = 0.2


class TorchServeError(RuntimeError):
    """TorchServe exited or did not serve the model in time; the message ends with its output."""


@dataclass(frozen=True)
class RunningTorchServe:
    address: str  # HOST:PORT of its gRPC inference API
    pid: int  # the frontend, leader of the process group that holds its workers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config_properties(store: Path, mar: str, grpc_port: int) -> str:
    return "\n".join([
        f"inference_address=http://127.0.0.1:{free_port()}", f"management_address=http://127.0.0.1:{free_port()}",
        f"metrics_address=http://127.0.0.1:{free_port()}", "grpc_inference_address=127.0.0.1",
        f"grpc_inference_port={grpc_port}", "grpc_management_address=127.0.0.1",
        f"grpc_management_port={free_port()}", "enable_envvars_config=false", "disable_token_authorization=true",
        "default_workers_per_model=1", f"model_store={store}", f"load_models={mar}", ""])


@contextlib.contextmanager
def stock_torchserve(work: Path, store: Path, mar: str, answers: Callable[[str], bool], *,
                     timeout_s: float = 180.0) -> Iterator[RunningTorchServe]:
    work.mkdir(parents=True, exist_ok=True)
    grpc_port = free_port()
    config = work / "config.properties"
    config.write_text(config_properties(store, mar, grpc_port))
    logs = work / "logs"
    env = {**os.environ, "LOG_LOCATION": str(logs), "METRICS_LOCATION": str(logs), "TMPDIR": str(work),
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    out = work / "torchserve.out"
    with out.open("wb") as sink:
        proc = subprocess.Popen([str(BIN / "torchserve"), "--start", "--foreground", "--ncs", "--disable-token-auth",
                                 "--model-store", str(store), "--ts-config", str(config)], cwd=work, env=env,
                                stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    address = f"127.0.0.1:{grpc_port}"
    try:
        deadline = time.monotonic() + timeout_s
        while not answers(address):
            if proc.poll() is not None:
                raise TorchServeError(f"TorchServe exited with {proc.returncode}: {out.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise TorchServeError(f"TorchServe did not serve {mar} within {timeout_s:.0f} s: "
                                      f"{out.read_text()[-3000:]}")
            time.sleep(POLL_S)  # polling a readiness probe, not ordering events
        yield RunningTorchServe(address, proc.pid)
    finally:
        stop_group(proc, 20.0)
