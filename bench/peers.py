"""torch_service against the servers a user would pick instead (issue 14), on the same TorchScript
MLP file (64-256-256-10, FP32, one row per request, 16 concurrent requests, one server process each,
one torch thread each):

- KServe's Python model server (kserve 0.21, in the benchmark's own environment: bench/envs.py,
  bench/kserve_server.py) over its gRPC v2 endpoint; torch_service as `make bench` runs it (batch 16 /
  2 ms). Both driven by perf_analyzer. Target: torch_service >= 1.5x.
- TorchServe 0.12 (the project's venv; Java from `make tools`) over its gRPC Predictions API, with
  torch-model-archiver's archive of the same file, batch 8 / 5 ms, one worker, raw FP32 bytes in and
  out (bench/torchserve_handler.py); torch_service serves the same file with the same batch 8 / 5 ms.
  Driven by the same load generator on both sides, h2load where installed (perf_analyzer has no
  TorchServe gRPC mode; bench/loadgen.RawLoad). Target: torch_service >= 3x.

A peer that cannot be set up (no network for KServe's environment, no Java) gives a row that says
why instead of a number."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
from pathlib import Path

import numpy as np

from loadtests.run.torchserve import BIN, free_port, stock_torchserve

from . import envs, harness
from .echo import mirror
from .harness import REPO_ROOT, Row, Server, Settings, server_process
from .loadgen import OIP_INFER, Model, OipLoad, RawLoad
from .torch_bench import add_mlp, save_mlp, service

SUITE = "peers"
MLP = Model("mlp", "x", (1, 64))
MLP8 = Model("mlp8", "x", (1, 64))
TS_PREDICT = "/org.pytorch.serve.grpc.inference.InferenceAPIsService/Predictions"
WHAT = "MLP 64-256-256-10, 16 concurrent"


# ------------------------------------------------------------------ KServe

def _kserve(settings: Settings, python: Path, model_file: Path, metadata: Path):
    cmd = [str(python), str(REPO_ROOT / "bench" / "kserve_server.py"), "--model-file", str(model_file),
           "--name", "mlp", "--grpc-port", str(free_port()), "--http-port", str(free_port()),
           "--metadata-dir", str(metadata)]
    return server_process(cmd, settings.workdir / "kserve.log", 180.0, name="KServe")


def _kserve_row(settings: Settings, store: Path, model_file: Path) -> Row:
    row = Row(SUITE, WHAT, "torch_service", "KServe 0.21 model server (gRPC v2)", "req/s", ">= 1.5")
    python, why = envs.kserve_python()
    if not python:
        return _skip(row, why)
    load, secs = OipLoad(settings.workdir), settings.mlp_s
    metadata = settings.workdir / "kserve-metadata"
    metadata.mkdir(exist_ok=True)
    with service(settings, store, "mlp", "peers-mlp", "--torch-threads", "1") as svc:
        for name, answer in asyncio.run(mirror(svc.address, "mlp")).items():
            (metadata / f"{name}.bin").write_bytes(answer)
        with _kserve(settings, python, model_file, metadata) as peer:
            load.warm(svc, MLP, 16)
            load.warm(peer, MLP, 16)
            s, b = harness.compare(settings, svc, "peers-kserve-16", lambda: load.run(svc, MLP, 16, secs),
                                   lambda: load.run(peer, MLP, 16, secs), MLP.name)
    return _fill(row, s, b, load.name, "peers-kserve-16")


# ------------------------------------------------------------------ TorchServe

def _torchserve_missing() -> str:
    if not (BIN / "torchserve").exists() or not (BIN / "torch-model-archiver").exists():
        return "TorchServe is not installed in the venv (requirements)"
    if not shutil.which("java"):
        return "TorchServe needs Java 17 (run `make tools`)"
    return ""


def _torchserve_archive(work: Path, model_file: Path) -> Path:
    """mlp.mar (torch-model-archiver's own output) with batch 8 / 5 ms and one worker."""
    store = work / "ts-store"
    store.mkdir(parents=True, exist_ok=True)
    config = work / "ts-model-config.yaml"
    config.write_text("batchSize: 8\nmaxBatchDelay: 5\nminWorkers: 1\nmaxWorkers: 1\n")
    handler = REPO_ROOT / "bench" / "torchserve_handler.py"
    subprocess.run([str(BIN / "torch-model-archiver"), "--model-name", "mlp", "--version", "1.0",
                    "--serialized-file", str(model_file), "--handler", str(handler), "--config-file", str(config),
                    "--export-path", str(store), "--force"], check=True, timeout=120, capture_output=True)
    return store


def _ts_request() -> bytes:
    from loadtests.targets.vendor import torchserve_inference_pb2 as ts_pb

    x = np.zeros(64, np.float32).tobytes()
    request = ts_pb.PredictionsRequest(model_name="mlp", input={"x": x})  # type: ignore[attr-defined]
    return request.SerializeToString()


def _ts_answers(address: str) -> bool:
    import grpc

    with grpc.insecure_channel(address) as channel:
        call = channel.unary_unary(TS_PREDICT, request_serializer=None, response_deserializer=None)
        try:
            return len(call(_ts_request(), timeout=5)) > 0
        except grpc.RpcError:
            return False


@contextlib.contextmanager
def _torchserve(settings: Settings, model_file: Path):
    """TorchServe 0.12 serving mlp.mar on loopback ports; yields a Server once mlp answers."""
    work = settings.workdir / "torchserve"
    store = _torchserve_archive(work, model_file)
    with stock_torchserve(work, store, "mlp.mar", _ts_answers) as ts:
        yield Server(ts.address, ts.pid, "TorchServe")


def _torchserve_row(settings: Settings, store: Path, model_file: Path) -> Row:
    row = Row(SUITE, f"{WHAT}, batch 8 / 5 ms", "torch_service", "TorchServe 0.12 (gRPC Predictions)", "req/s",
              ">= 3")
    why = _torchserve_missing()
    if why:
        return _skip(row, why)
    load, secs, oip, predictions = RawLoad(settings.workdir), settings.mlp_s, MLP8.request_bytes(), _ts_request()
    with service(settings, store, "mlp8", "peers-mlp8", "--torch-threads", "1") as svc, \
            _torchserve(settings, model_file) as peer:
        def subject():
            return load.run(svc, OIP_INFER, oip, 16, secs)

        def baseline():
            return load.run(peer, TS_PREDICT, predictions, 16, secs)

        subject(), baseline()  # warm both
        s, b = harness.compare(settings, svc, "peers-torchserve-16", subject, baseline, MLP8.name)
    return _fill(row, s, b, load.name(16), "peers-torchserve-16")


# ------------------------------------------------------------------ rows

def _skip(row: Row, why: str) -> Row:
    row.skipped = why
    return row


def _fill(row: Row, s: harness.Summary, b: harness.Summary, generator: str, profile: str) -> Row:
    row.subject_value, row.baseline_value = s.rps, b.rps
    row.subject_load, row.baseline_load, row.generator, row.profile = s, b, generator, profile
    return row


def run(settings: Settings) -> list[Row]:
    work = settings.workdir / "peers"
    model_file = save_mlp(work / "src")
    store = work / "store"
    add_mlp(store, "mlp", model_file, 16, 2)
    add_mlp(store, "mlp8", model_file, 8, 5)
    return [_attempt(_kserve_row, settings, store, model_file), _attempt(_torchserve_row, settings, store, model_file)]


def _attempt(make_row, settings: Settings, store: Path, model_file: Path) -> Row:
    """The peer's row; a peer that fails to start or to answer gives a row saying so, not a crash."""
    try:
        return make_row(settings, store, model_file)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        peer = "KServe" if make_row is _kserve_row else "TorchServe"
        return _skip(Row(SUITE, WHAT, "torch_service", peer, "req/s", ">= 1.5" if peer == "KServe" else ">= 3"),
                     f"{peer} failed: {str(exc).strip()[:300]}")
