"""Per-model-version counters behind ModelStatistics (Triton's statistics extension)."""

from __future__ import annotations

import contextlib
import copy
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Duration:
    count: int = 0
    ns: int = 0

    def add(self, ns: int, count: int = 1) -> None:
        self.count += count
        self.ns += ns


@dataclass
class BatchStats:
    compute_input: Duration = field(default_factory=Duration)
    compute_infer: Duration = field(default_factory=Duration)
    compute_output: Duration = field(default_factory=Duration)


@dataclass
class ModelStatsSnapshot:
    name: str
    version: str
    last_inference_ms: int = 0
    inference_count: int = 0
    execution_count: int = 0
    success: Duration = field(default_factory=Duration)
    fail: Duration = field(default_factory=Duration)
    queue: Duration = field(default_factory=Duration)
    compute_input: Duration = field(default_factory=Duration)
    compute_infer: Duration = field(default_factory=Duration)
    compute_output: Duration = field(default_factory=Duration)
    batches: dict[int, BatchStats] = field(default_factory=dict)


class ModelStats:
    """Thread-safe recorder for one model version. Requests and executions are recorded apart:
    one execution (a batch) serves several requests. Feeds the Prometheus metrics when given."""

    def __init__(self, name: str, version: str, metrics=None):
        self._lock = threading.Lock()
        self._s = ModelStatsSnapshot(name, version)
        self._m = _Children(metrics, name, version) if metrics is not None else None

    @contextlib.contextmanager
    def in_flight(self):
        gauge = self._m.in_flight if self._m else None
        if gauge:
            gauge.inc()
        try:
            yield
        finally:
            if gauge:
                gauge.dec()

    def request_done(self, ok: bool, total_ns: int, queue_ns: int = 0, status: str = "") -> None:
        if self._m:
            self._m.requests(status or ("OK" if ok else "ERROR")).inc()
            self._m.request_latency.observe(total_ns / 1e9)
            if ok:
                self._m.queue_latency.observe(queue_ns / 1e9)
        with self._lock:
            s = self._s
            if ok:
                s.success.add(total_ns)
                s.queue.add(queue_ns)
                s.inference_count += 1
                s.last_inference_ms = int(time.time() * 1000)
            else:
                s.fail.add(total_ns)

    def execution_done(self, batch_size: int, input_ns: int, infer_ns: int, output_ns: int) -> None:
        """One model execution over `batch_size` requests' worth of rows."""
        if self._m:
            self._m.batch_size.observe(batch_size)
            self._m.compute_latency.observe((input_ns + infer_ns + output_ns) / 1e9)
        with self._lock:
            s = self._s
            s.execution_count += 1
            s.compute_input.add(input_ns)
            s.compute_infer.add(infer_ns)
            s.compute_output.add(output_ns)
            b = s.batches.setdefault(batch_size, BatchStats())
            b.compute_input.add(input_ns)
            b.compute_infer.add(infer_ns)
            b.compute_output.add(output_ns)

    def snapshot(self) -> ModelStatsSnapshot:
        with self._lock:
            return copy.deepcopy(self._s)


class _Children:
    """One model version's labelled Prometheus children, resolved once (labels() costs a lock and a
    dict lookup per call, which the hot path need not pay)."""

    def __init__(self, metrics, name: str, version: str):
        labels = (name, version)
        self._requests = metrics.requests
        self._labels = labels
        self._by_status: dict[str, object] = {}
        self.request_latency = metrics.request_latency.labels(*labels)
        self.queue_latency = metrics.queue_latency.labels(*labels)
        self.compute_latency = metrics.compute_latency.labels(*labels)
        self.batch_size = metrics.batch_size.labels(*labels)
        self.in_flight = metrics.in_flight.labels(*labels)

    def requests(self, status: str):
        child = self._by_status.get(status)
        if child is None:
            child = self._by_status[status] = self._requests.labels(*self._labels, status)
        return child
