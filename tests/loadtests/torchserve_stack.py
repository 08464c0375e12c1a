"""A real TorchServe 0.12 (Java frontend + Python worker) for the torchserve:// target tests, started
from `torch-model-archiver` output of a small torch.export model (the echo servers' add_sub, a `.pt2`
as the zoo writes them) with the shipped handler for the target's JSON payload
(loadtests/targets/torchserve_handler.py) and a model-config.yaml naming the tensors and letting
TorchServe batch up to 4 requests. On free loopback ports, with a temporary model store,
config.properties and log folder; stopped with its whole process group. About 5 s to start here."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import grpc
import torch

from loadtests.targets.vendor import torchserve_inference_pb2_grpc as ts_grpc
from tests.support.ports import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
HANDLER = ROOT / "loadtests" / "targets" / "torchserve_handler.py"
BIN = Path(sys.executable).parent
START_TIMEOUT_S = 120
MODEL_CONFIG = """\
batchSize: 4
maxBatchDelay: 5
minWorkers: 1
maxWorkers: 1
tensors:
  inputs:
  - {name: INPUT0, datatype: FP32, shape: [-1, 16]}
  - {name: INPUT1, datatype: FP32, shape: [-1, 16]}
  outputs:
  - {name: OUTPUT0, datatype: FP32, shape: [-1, 16]}
  - {name: OUTPUT1, datatype: FP32, shape: [-1, 16]}
"""


class AddSub(torch.nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor):
        return a + b, a - b


def archive(work: Path) -> Path:
    """add_sub.mar in work/store (torch-model-archiver's own output)."""
    model = work / "add_sub.pt2"
    batch = torch.export.Dim("batch")
    program = torch.export.export(AddSub(), (torch.zeros(2, 16), torch.zeros(2, 16)),
                                  dynamic_shapes=({0: batch}, {0: batch}))
    torch.export.save(program, str(model))
    config = work / "model-config.yaml"
    config.write_text(MODEL_CONFIG)
    store = work / "store"
    store.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(BIN / "torch-model-archiver"), "--model-name", "add_sub", "--version", "1.0",
                    "--serialized-file", str(model), "--handler", str(HANDLER), "--config-file", str(config),
                    "--export-path", str(store), "--force"], check=True, timeout=120)
    return store


def _models_answer(address: str) -> bool:
    """add_sub answers a request (the model is registered and its worker up)."""
    from loadtests.targets.vendor import torchserve_inference_pb2 as ts_pb

    channel = grpc.insecure_channel(address)
    try:
        ts_grpc.InferenceAPIsServiceStub(channel).Predictions(
            ts_pb.PredictionsRequest(model_name="add_sub", input={"INPUT0": json.dumps([[1.0] * 16]).encode(),
                                                                  "INPUT1": json.dumps([[2.0] * 16]).encode()}),
            timeout=5)
        return True
    except grpc.RpcError:
        return False
    finally:
        channel.close()


@contextlib.contextmanager
def torchserve(work: Path):
    """Yields the gRPC inference address (HOST:PORT) of a TorchServe serving add_sub."""
    store = archive(work)
    grpc_port, grpc_mgmt = free_port(), free_port()
    config = work / "config.properties"
    config.write_text("\n".join([
        f"inference_address=http://127.0.0.1:{free_port()}", f"management_address=http://127.0.0.1:{free_port()}",
        f"metrics_address=http://127.0.0.1:{free_port()}", "grpc_inference_address=127.0.0.1",
        f"grpc_inference_port={grpc_port}", "grpc_management_address=127.0.0.1",
        f"grpc_management_port={grpc_mgmt}", "enable_envvars_config=false", "disable_token_authorization=true",
        "default_workers_per_model=1", f"model_store={store}", "load_models=add_sub.mar", ""]))
    logs = work / "logs"
    env = {**os.environ, "LOG_LOCATION": str(logs), "METRICS_LOCATION": str(logs),
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.Popen([str(BIN / "torchserve"), "--start", "--foreground", "--ncs", "--disable-token-auth",
                             "--model-store", str(store), "--ts-config", str(config)], cwd=work, env=env,
                            stdout=(work / "torchserve.out").open("wb"), stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    address = f"127.0.0.1:{grpc_port}"
    try:
        wait_for(lambda: proc.poll() is not None or _models_answer(address), timeout=START_TIMEOUT_S,
                 interval=0.2, what="TorchServe to serve add_sub")
        assert proc.poll() is None, (work / "torchserve.out").read_text()[-3000:]
        yield address
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the Java frontend and its Python workers, all in its group
        proc.wait(10)
