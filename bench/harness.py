"""Measuring: closed-loop asyncio clients against a gRPC target, and in-process forwards.

Every comparison is run side by side in one process run, alternating baseline and subject over
several rounds; the median of the rounds is reported (these machines are noisy).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import signal
import statistics
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import grpc

from protos import grpc_predict_v2_pb2 as pb

MAX_MESSAGE = 64 * 1024 * 1024
REPO_ROOT = Path(__file__).resolve().parent.parent
_OPTIONS = [("grpc.max_send_message_length", MAX_MESSAGE), ("grpc.max_receive_message_length", MAX_MESSAGE)]


@dataclass
class Load:
    """One closed-loop measurement: `items` per call (rows of a batch), requests done in `seconds`."""

    requests: int
    seconds: float
    latencies_s: list[float]
    items_per_request: int = 1

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def items_per_s(self) -> float:
        return self.rps * self.items_per_request

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies_s) * 1e3


@dataclass
class Row:
    """One line of the benchmark table: subject vs baseline, with the issue's target for the ratio."""

    suite: str
    what: str
    subject: str
    subject_value: float
    baseline: str
    baseline_value: float
    unit: str
    target: str  # e.g. ">= 0.8"
    higher_is_better: bool = True

    @property
    def ratio(self) -> float:
        return self.subject_value / self.baseline_value if self.baseline_value else float("nan")

    @property
    def met(self) -> bool:
        op, _, value = self.target.partition(" ")
        return self.ratio >= float(value) if op == ">=" else self.ratio <= float(value)


async def closed_loop(address: str, request_bytes: bytes, concurrency: int, duration_s: float,
                      warmup_s: float = 0.5, items_per_request: int = 1) -> Load:
    """`concurrency` asyncio callers each send the serialized ModelInferRequest back to back."""
    async with grpc.aio.insecure_channel(address, options=_OPTIONS) as channel:
        call = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer",
                                   request_serializer=None, response_deserializer=None)
        latencies: list[float] = []
        measuring = False
        stop_at = 0.0

        async def caller():
            while True:
                t0 = time.perf_counter()
                if measuring and t0 >= stop_at:
                    return
                await call(request_bytes, timeout=60)
                if measuring and t0 < stop_at:
                    latencies.append(time.perf_counter() - t0)

        async def run(seconds):
            nonlocal stop_at
            stop_at = time.perf_counter() + seconds
            await asyncio.gather(*(caller() for _ in range(concurrency)))

        warm = asyncio.ensure_future(asyncio.gather(*(caller() for _ in range(concurrency))))
        await asyncio.sleep(warmup_s)
        warm.cancel()
        await asyncio.gather(warm, return_exceptions=True)
        measuring = True
        started = time.perf_counter()
        await run(duration_s)
        elapsed = time.perf_counter() - started
    return Load(len(latencies), elapsed, latencies, items_per_request)


def measure(address: str, request: pb.ModelInferRequest, concurrency: int, duration_s: float,
            warmup_s: float = 0.5, items_per_request: int = 1) -> Load:
    return asyncio.run(closed_loop(address, request.SerializeToString(), concurrency, duration_s,
                                   warmup_s, items_per_request))


def in_process(forward: Callable[[], object], duration_s: float, items_per_call: int) -> Load:
    """Call `forward()` back to back for `duration_s` (after one warm-up call)."""
    forward()
    latencies = []
    started = time.perf_counter()
    while time.perf_counter() - started < duration_s:
        t0 = time.perf_counter()
        forward()
        latencies.append(time.perf_counter() - t0)
    return Load(len(latencies), time.perf_counter() - started, latencies, items_per_call)


def median_of(rounds: int, measure_pair: Callable[[], tuple[float, float]]) -> tuple[float, float]:
    """Run (subject, baseline) pairs `rounds` times, interleaved; the median of each."""
    subject, baseline = [], []
    for _ in range(rounds):
        s, b = measure_pair()
        subject.append(s)
        baseline.append(b)
    return statistics.median(subject), statistics.median(baseline)


AsyncCall = Callable[[], Awaitable[object]]


@contextlib.contextmanager
def server_process(cmd: list[str], log: Path, timeout: float = 180.0, env: dict | None = None):
    """Run `cmd` (which prints `READY host:port`), yield the address, stop it with SIGTERM."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}
    with open(log, "w") as err:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
    lines: queue.Queue = queue.Queue()

    def pump():
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                raise RuntimeError(f"{' '.join(cmd[:3])} did not start: {log.read_text()[-2000:]}")
            if line.startswith("READY "):
                break
        yield line.split()[1]
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
