"""The load generators. OIP v2 targets: perf_analyzer where `make tools` installed it, else Python
client processes (bench/clients.py); batch 1, zero-filled inputs, closed loop. Targets perf_analyzer
cannot drive (one gRPC method, one pre-serialised request: TorchServe's Predictions, TF Serving's
Predict, and whatever is set beside them): h2load where `make tools` installed it, else the same
Python client processes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import clients, h2load, perf
from .harness import Load, Server

OIP_INFER = "/inference.GRPCInferenceService/ModelInfer"


def client_processes() -> int:
    """Python client processes: two on small machines, a quarter of the cores on larger ones."""
    return max(2, (os.cpu_count() or 1) // 4)


@dataclass
class Model:
    """What a request carries: the model's name and version, its input's name and shape (batch 1)."""

    name: str
    input: str
    shape: tuple[int, ...]
    version: str = "1"

    def request_bytes(self) -> bytes:
        from client.messages import infer_request

        return infer_request(self.name, {self.input: np.zeros(self.shape, np.float32)}).SerializeToString()


class OipLoad:
    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.why_not_perf = perf.missing()
        self.name = ("perf_analyzer" if not self.why_not_perf
                     else f"{client_processes()} Python client processes")

    def run(self, server: Server, model: Model, concurrency: int, duration_s: float, items: int = 1,
            requests_per_window: int = 0) -> Load:
        """One measurement; `requests_per_window` (perf_analyzer only) for slow models."""
        if not self.why_not_perf:
            return perf.run(server, model.name, concurrency, duration_s, model.version, items, requests_per_window)
        return clients.run(server, OIP_INFER, model.request_bytes(), concurrency, duration_s,
                           client_processes(), items, self.workdir)

    def warm(self, server: Server, model: Model, concurrency: int, duration_s: float = 1.5,
             requests_per_window: int = 0) -> None:
        """A short run whose numbers are dropped: a fresh server's first calls are slow (so slow for a
        CNN that a window may see no answer, which perf_analyzer reports as a failure: ignored here)."""
        try:
            self.run(server, model, concurrency, duration_s, requests_per_window=requests_per_window)
        except RuntimeError:
            pass


class RawLoad:
    """One pre-serialised request to one gRPC method, closed loop: h2load, else Python client
    processes (at most one per concurrent request)."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.why_not_h2load = h2load.missing()

    def name(self, concurrency: int) -> str:
        if not self.why_not_h2load:
            return "h2load"
        processes = min(client_processes(), concurrency)
        return f"{processes} Python client process{'es' if processes > 1 else ''}"

    def run(self, server: Server, method: str, payload: bytes, concurrency: int, duration_s: float) -> Load:
        if not self.why_not_h2load:
            return h2load.run(server, method, payload, concurrency, duration_s, workdir=self.workdir)
        return clients.run(server, method, payload, concurrency, duration_s, min(client_processes(), concurrency),
                           workdir=self.workdir)
