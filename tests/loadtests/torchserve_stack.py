"""A real TorchServe 0.12 (Java frontend + Python worker) for the torchserve:// target tests, started
from `torch-model-archiver` output of a small torch.export model (the echo servers' add_sub, a `.pt2`
as the zoo writes them) with the shipped handler for the target's JSON payload
(loadtests/targets/torchserve_handler.py) and a model-config.yaml naming the tensors and letting
TorchServe batch up to 4 requests. On free loopback ports, with a temporary model store,
config.properties and log folder; stopped with its whole process group. About 5 s to start here."""

from __future__ import annotations

import contextlib
import json
import subprocess
from pathlib import Path

import grpc
import torch

from loadtests.run.torchserve import BIN, stock_torchserve
from loadtests.targets.vendor import torchserve_inference_pb2_grpc as ts_grpc

ROOT = Path(__file__).resolve().parents[2]
HANDLER = ROOT / "loadtests" / "targets" / "torchserve_handler.py"
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
    with stock_torchserve(work, archive(work), "add_sub.mar", _models_answer, timeout_s=START_TIMEOUT_S) as ts:
        yield ts.address
