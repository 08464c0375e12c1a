"""torch_service speed (issue 3): ratios measured side by side in one run.

- MLP 64-256-256-10 (FP32, one row per request): requests/s with 16 concurrent asyncio clients vs
  a bare grpc.aio echo server carrying the same request bytes (target >= 0.8x), and p50 latency at
  concurrency 1 (target <= 1.3x).
- ResNet-18-shaped CNN (torchvision's layer structure, built here with torch.nn) at 224x224, one
  image per request: images/s through the service with 8 concurrent clients vs the in-process
  batched forward (batch 8) of the same torch.export program (target >= 0.9x), once with the
  service's own torch thread count (the cost of serving) and once with torch's default count.

The service runs as its real command line (`python -m torch_service`) and the echo as
`python -m bench.echo`, each in its own process, so server and client do not share a GIL.
Rounds alternate subject and baseline; each ratio is the median over the rounds.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

from client.messages import infer_request

from . import harness
from .harness import Row, server_process

REPO_ROOT = Path(__file__).resolve().parents[1]
SUITE = "torch"


# ------------------------------------------------------------------ models

def _mlp():
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                               torch.nn.ReLU(), torch.nn.Linear(256, 10)).eval()


def _resnet18(num_classes: int = 1000):
    """torchvision's resnet18 layer structure (BasicBlock x [2, 2, 2, 2]) in plain torch.nn."""
    import torch
    from torch import nn

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + identity)

    class ResNet18(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            layers, cin = [], 64
            for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
                layers.append(nn.Sequential(BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)))
                cin = cout
            self.layer1, self.layer2, self.layer3, self.layer4 = layers
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(512, num_classes)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    torch.manual_seed(0)
    return ResNet18().eval()


def _tensors(inputs, outputs) -> dict:
    def specs(items):
        return [{"name": n, "datatype": "FP32", "shape": list(s)} for n, s in items]
    return {"inputs": specs(inputs), "outputs": specs(outputs)}


def build_store(root: Path) -> tuple[Path, Path]:
    """A model store with `mlp` (TorchScript: the lowest per-call overhead for a tiny model) and
    `resnet18` (torch.export .pt2). Returns (store, resnet .pt2 path for the in-process baseline)."""
    import torch

    from torch_service.archive import build_archive

    src, store = root / "src", root / "store"
    src.mkdir(parents=True)
    torch.jit.script(_mlp()).save(str(src / "mlp.pt"))
    build_archive(store / "mlp.mar", model_name="mlp", version="1", serialized_file=src / "mlp.pt", config={
        "batchSize": 16, "maxBatchDelay": 2, "minWorkers": 1,
        "tensors": _tensors([("x", (-1, 64))], [("y", (-1, 10))])})
    batch = torch.export.Dim("batch", min=1, max=64)
    program = torch.export.export(_resnet18(), (torch.zeros(2, 3, 224, 224),), dynamic_shapes=({0: batch},))
    torch.export.save(program, str(src / "resnet18.pt2"))
    build_archive(store / "resnet18.mar", model_name="resnet18", version="1", serialized_file=src / "resnet18.pt2",
                  compress=False, config={
                      "batchSize": 8, "maxBatchDelay": 20, "minWorkers": 1,
                      "tensors": _tensors([("images", (-1, 3, 224, 224))], [("logits", (-1, 1000))])})
    return store, src / "resnet18.pt2"


# ------------------------------------------------------------------ processes

def _process(cmd: list[str], log: Path, timeout: float = 120.0):
    return server_process(cmd, log, timeout)


def _service(store: Path, model: str, log: Path, *extra: str):
    return _process([sys.executable, "-m", "torch_service", "--model-store", str(store), "--models", model,
                     "--port", "0", "--metrics-port", "-1", "--log-level", "WARNING", *extra], log)


# ------------------------------------------------------------------ measurements

def _mlp_rows(store: Path, tmp: Path, rounds: int, duration: float) -> list[Row]:
    request = infer_request("mlp", {"x": np.random.default_rng(0).standard_normal((1, 64)).astype(np.float32)})
    # a tiny model gains nothing from intra-op threads: one, as a deployment of such a model would run
    with _service(store, "mlp", tmp / "mlp.log", "--torch-threads", "1") as svc, \
            _process([sys.executable, "-m", "bench.echo"], tmp / "echo.log") as echo:
        rps = harness.median_of(rounds, lambda: (harness.measure(svc, request, 16, duration).rps,
                                                 harness.measure(echo, request, 16, duration).rps))
        p50 = harness.median_of(rounds, lambda: (harness.measure(svc, request, 1, duration).p50_ms,
                                                 harness.measure(echo, request, 1, duration).p50_ms))
    what = "MLP 64-256-256-10"
    return [Row(SUITE, f"{what}, 16 clients", "torch_service", rps[0], "grpc.aio echo", rps[1], "req/s", ">= 0.8"),
            Row(SUITE, f"{what}, p50 at 1 client", "torch_service", p50[0], "grpc.aio echo", p50[1], "ms", "<= 1.3",
                higher_is_better=False)]


def _resnet_rows(store: Path, program: Path, tmp: Path, rounds: int, duration: float) -> list[Row]:
    """Service vs the in-process forward with the service's own torch thread count (what serving
    costs), and vs torch's default thread count (what a user running the model by hand gets)."""
    import torch

    from torch_service.devices import ThreadBudget

    image = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    request = infer_request("resnet18", {"images": image})
    module = torch.export.load(str(program)).module()
    batch = torch.from_numpy(np.repeat(image, 8, axis=0))
    default_threads = torch.get_num_threads()
    service_threads = ThreadBudget().threads_for(1)  # what the service picks for one worker here

    def forward_with(threads):
        def forward():
            with torch.inference_mode():
                module(batch)
        torch.set_num_threads(threads)
        try:
            return harness.in_process(forward, duration, items_per_call=8).items_per_s
        finally:
            torch.set_num_threads(default_threads)

    served, same, default = [], [], []
    with _service(store, "resnet18", tmp / "resnet.log") as svc:
        harness.measure(svc, request, 8, duration, warmup_s=1.0)  # first batches of each size are slow
        for _ in range(rounds):
            served.append(harness.measure(svc, request, 8, duration, warmup_s=1.0).items_per_s)
            same.append(forward_with(service_threads))
            default.append(forward_with(default_threads))
    what = "ResNet-18 224x224, 8 clients"
    return [Row(SUITE, what, "torch_service", statistics.median(served),
                f"in-process forward (batch 8, {service_threads} threads)", statistics.median(same), "images/s",
                ">= 0.9"),
            Row(SUITE, what, "torch_service", statistics.median(served),
                f"in-process forward (batch 8, torch default {default_threads} threads)", statistics.median(default),
                "images/s", ">= 0.9")]


def run(quick: bool) -> list[Row]:
    rounds, mlp_s, cnn_s = (3, 1.0, 4.0) if quick else (5, 3.0, 8.0)
    with tempfile.TemporaryDirectory(prefix="torch-bench-") as d:
        tmp = Path(d)
        store, program = build_store(tmp)
        return _mlp_rows(store, tmp, rounds, mlp_s) + _resnet_rows(store, program, tmp, rounds, cnn_s)


if __name__ == "__main__":
    from .__main__ import render

    print(render(run("--quick" in sys.argv)))
