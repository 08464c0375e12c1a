"""torch_service speed (issues 3 and 14): ratios measured side by side in one run.

- MLP 64-256-256-10 (FP32, one row per request): requests/s with 16 concurrent requests vs a bare
  grpc.aio echo server carrying the same request bytes (target >= 0.8x), and p50 latency at
  concurrency 1 (target <= 1.3x).
- ResNet-18-shaped CNN (torchvision's layer structure, built here with torch.nn) at 224x224, one
  image per request: images/s through the service with 8 concurrent requests vs the in-process
  batched forward (batch 8) of the same torch.export program (target >= 0.9x), with the service's
  own torch thread count (the cost of serving) and, where it differs, torch's default count.

The service runs as its real command line (`python -m torch_service`) and the echo as
`python -m bench.echo` (answering the service's ModelMetadata/ModelConfig), each in its own process;
the load comes from perf_analyzer (bench/loadgen.py). Rounds alternate subject and baseline; each
ratio is the median over the rounds.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from . import harness, inside
from .harness import Row, Settings, server_process
from .loadgen import Model, OipLoad

REPO_ROOT = Path(__file__).resolve().parents[1]
SUITE = "torch"
MLP = Model("mlp", "x", (1, 64))
RESNET = Model("resnet18", "images", (1, 3, 224, 224))


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


def save_mlp(src: Path) -> Path:
    """The MLP as TorchScript (the lowest per-call overhead for a tiny model): src/mlp.pt."""
    import torch

    src.mkdir(parents=True, exist_ok=True)
    torch.jit.script(_mlp()).save(str(src / "mlp.pt"))
    return src / "mlp.pt"


def add_mlp(store: Path, name: str, model_file: Path, batch: int, delay_ms: int) -> None:
    """`name`.mar in `store`: the TorchScript MLP, batching up to `batch` rows or `delay_ms`."""
    from torch_service.archive import build_archive

    build_archive(store / f"{name}.mar", model_name=name, version="1", serialized_file=model_file, config={
        "batchSize": batch, "maxBatchDelay": delay_ms, "minWorkers": 1,
        "tensors": _tensors([("x", (-1, 64))], [("y", (-1, 10))])})


def build_store(root: Path, resnet: bool = True) -> tuple[Path, Path]:
    """A model store with `mlp` (TorchScript, batch 16 / 2 ms) and `resnet18` (torch.export .pt2).
    Returns (store, resnet .pt2 path for the in-process baseline)."""
    import torch

    from torch_service.archive import build_archive

    src, store = root / "src", root / "store"
    add_mlp(store, "mlp", save_mlp(src), 16, 2)
    if resnet:
        batch = torch.export.Dim("batch", min=1, max=64)
        program = torch.export.export(_resnet18(), (torch.zeros(2, 3, 224, 224),), dynamic_shapes=({0: batch},))
        torch.export.save(program, str(src / "resnet18.pt2"))
        build_archive(store / "resnet18.mar", model_name="resnet18", version="1",
                      serialized_file=src / "resnet18.pt2", compress=False, config={
                          "batchSize": 8, "maxBatchDelay": 20, "minWorkers": 1,
                          "tensors": _tensors([("images", (-1, 3, 224, 224))], [("logits", (-1, 1000))])})
    return store, src / "resnet18.pt2"


# ------------------------------------------------------------------ processes

def service(settings: Settings, store: Path, models: str, name: str, *extra: str):
    """torch_service serving `models` from `store` (under the profiler when `--profile` uses cProfile)."""
    cmd = [sys.executable, "-m", "torch_service", "--model-store", str(store), "--models", models,
           "--port", "0", "--metrics-port", "-1", "--log-level", "WARNING", *extra]
    return server_process(settings.wrap(cmd, name), settings.workdir / f"{name}.log", 120.0, name="torch_service")


def echo(settings: Settings, mirror: harness.Server, model: str, name: str = "echo"):
    """The bare grpc.aio echo, answering `mirror`'s ModelMetadata/ModelConfig for `model`."""
    return server_process([sys.executable, "-m", "bench.echo", "--mirror", mirror.address, "--model", model],
                          settings.workdir / f"{name}.log", 60.0, name="grpc.aio echo")


# ------------------------------------------------------------------ measurements

def _mlp_rows(settings: Settings, store: Path) -> list[Row]:
    load, secs = OipLoad(settings.workdir), settings.mlp_s
    # a tiny model gains nothing from intra-op threads: one, as a deployment of such a model would run
    with service(settings, store, "mlp", "torch-mlp", "--torch-threads", "1") as svc, \
            echo(settings, svc, "mlp") as bare:
        load.warm(svc, MLP, 16)
        load.warm(bare, MLP, 16)
        many = harness.compare(settings, svc, "torch-mlp-16", lambda: load.run(svc, MLP, 16, secs),
                               lambda: load.run(bare, MLP, 16, secs), MLP.name)
        one = harness.compare(settings, svc, "torch-mlp-1", lambda: load.run(svc, MLP, 1, secs),
                              lambda: load.run(bare, MLP, 1, secs), MLP.name)
    what = "MLP 64-256-256-10"
    return [Row(SUITE, f"{what}, 16 concurrent", "torch_service", "grpc.aio echo", "req/s", ">= 0.8",
                many[0].rps, many[1].rps, load.name, *many, profile="torch-mlp-16"),
            Row(SUITE, f"{what}, p50 at 1 concurrent", "torch_service", "grpc.aio echo", "ms", "<= 1.3",
                one[0].p50_ms, one[1].p50_ms, load.name, *one, profile="torch-mlp-1",
                per_request="decode, hand-offs to and from the batcher, forward, encode")]


def _resnet_rows(settings: Settings, store: Path, program: Path) -> list[Row]:
    """Service vs the in-process forward with the service's own torch thread count (what serving
    costs), and vs torch's default thread count (what a user running the model by hand gets) where
    the two counts differ."""
    import torch

    from torch_service.devices import ThreadBudget

    load, n, secs = OipLoad(settings.workdir), settings.rounds, settings.cnn_s
    module = torch.export.load(str(program)).module()
    batch = torch.zeros(8, 3, 224, 224)
    default_threads = torch.get_num_threads()
    service_threads = ThreadBudget().threads_for(1)  # what the service picks for one worker here

    def forward_with(threads):
        def forward():
            with torch.inference_mode():
                module(batch)
        torch.set_num_threads(threads)
        try:
            return harness.in_process(forward, secs, items_per_call=8)
        finally:
            torch.set_num_threads(default_threads)

    served, same, default = [], [], []
    with service(settings, store, "resnet18", "torch-resnet") as svc:
        load.warm(svc, RESNET, 8, secs, requests_per_window=8)  # the first batches of each size are slow

        def serve() -> harness.Load:
            return load.run(svc, RESNET, 8, secs, requests_per_window=settings.cnn_requests)

        with inside.watch(svc.address, RESNET.name) as seen:
            for _ in range(n):
                served.append(serve())
                same.append(forward_with(service_threads))
                if default_threads != service_threads:
                    default.append(forward_with(default_threads))
        settings.profile(svc, "torch-resnet", serve)
    s, b1 = dataclasses.replace(harness.summarise(served), inside=seen.text), harness.summarise(same)
    what = "ResNet-18 224x224, 8 concurrent"
    rows = [Row(SUITE, what, "torch_service", f"in-process forward (batch 8, {service_threads} threads)",
                "images/s", ">= 0.9", s.items_per_s, b1.items_per_s, load.name, s, b1, profile="torch-resnet")]
    if default:
        b2 = harness.summarise(default)
        rows.append(Row(SUITE, what, "torch_service", f"in-process forward (batch 8, torch default {default_threads} "
                        "threads)", "images/s", ">= 0.9", s.items_per_s, b2.items_per_s, load.name, s, b2,
                        profile="torch-resnet"))
    return rows


def run(settings: Settings) -> list[Row]:
    store, program = build_store(settings.workdir / "torch")
    return _mlp_rows(settings, store) + _resnet_rows(settings, store, program)
