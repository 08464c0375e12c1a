"""Per-model-version counters behind ModelStatistics (Triton's statistics extension) and the Prometheus
metrics (`server_core.metrics` renders them at scrape time).

The hot path updates plain numbers under one lock per call (no Prometheus objects, whose every
increment takes a lock of its own: 11 per request before). A `ModelStatsSnapshot` is a copy of
them that can be summed (`combine`) and written as JSON (`to_json` / `from_json`): that is how
`--processes N` shows one ModelStatistics and one /metrics view for all its workers
(`server_core.shared_stats`).
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

# Prometheus histogram bounds (seconds, and requests per execution); a value v counts in the first
# bucket whose bound is >= v, the last count is +Inf.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


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
class Histogram:
    """Counts per bucket (not cumulative; one more than the bounds, for +Inf) and the sum."""

    counts: list[int]
    sum: float = 0.0

    @classmethod
    def empty(cls, bounds: tuple) -> Histogram:
        return cls([0] * (len(bounds) + 1))


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
    # for the Prometheus metrics
    requests: dict[str, int] = field(default_factory=dict)  # final status name -> requests
    in_flight: int = 0
    request_latency: Histogram = field(default_factory=lambda: Histogram.empty(LATENCY_BUCKETS))
    queue_latency: Histogram = field(default_factory=lambda: Histogram.empty(LATENCY_BUCKETS))
    compute_latency: Histogram = field(default_factory=lambda: Histogram.empty(LATENCY_BUCKETS))
    batch_size: Histogram = field(default_factory=lambda: Histogram.empty(BATCH_BUCKETS))
    created: float = 0.0  # time.time() the first recorder of this version started


_DURATIONS = ("success", "fail", "queue", "compute_input", "compute_infer", "compute_output")
_HISTOGRAMS = ("request_latency", "queue_latency", "compute_latency", "batch_size")


class ModelStats:
    """Recorder for one model version. Requests and executions are recorded apart: one execution (a
    batch) serves several requests. `request_done` and the in-flight count run on the server's event
    loop; `execution_done` may run on worker threads; `snapshot()` on any thread."""

    def __init__(self, name: str, version: str, metrics=None):
        self._lock = threading.Lock()
        self._s = ModelStatsSnapshot(name, version, created=time.time())
        self.in_flight = 0  # requests accepted and not yet answered (changed on the loop only)
        if metrics is not None:
            metrics.track(self)

    def request_done(self, ok: bool, total_ns: int, queue_ns: int = 0, status: str = "") -> None:
        status = status or ("OK" if ok else "ERROR")
        total_s = total_ns / 1e9
        with self._lock:
            s = self._s
            s.requests[status] = s.requests.get(status, 0) + 1
            _observe(s.request_latency, LATENCY_BUCKETS, total_s)
            if ok:
                s.success.count += 1
                s.success.ns += total_ns
                s.queue.count += 1
                s.queue.ns += queue_ns
                s.inference_count += 1
                s.last_inference_ms = int(time.time() * 1000)
                _observe(s.queue_latency, LATENCY_BUCKETS, queue_ns / 1e9)
            else:
                s.fail.count += 1
                s.fail.ns += total_ns

    def execution_done(self, batch_size: int, input_ns: int, infer_ns: int, output_ns: int) -> None:
        """One model execution over `batch_size` requests' worth of rows."""
        with self._lock:
            s = self._s
            s.execution_count += 1
            s.compute_input.add(input_ns)
            s.compute_infer.add(infer_ns)
            s.compute_output.add(output_ns)
            b = s.batches.get(batch_size)
            if b is None:
                b = s.batches[batch_size] = BatchStats()
            b.compute_input.add(input_ns)
            b.compute_infer.add(infer_ns)
            b.compute_output.add(output_ns)
            _observe(s.batch_size, BATCH_BUCKETS, batch_size)
            _observe(s.compute_latency, LATENCY_BUCKETS, (input_ns + infer_ns + output_ns) / 1e9)

    def snapshot(self) -> ModelStatsSnapshot:
        with self._lock:
            copy = from_json(to_json(self._s))
        copy.in_flight = self.in_flight
        return copy


def _observe(h: Histogram, bounds: tuple, value: float) -> None:
    h.counts[bisect.bisect_left(bounds, value)] += 1
    h.sum += value


# ---------------------------------------------------------------- combining and JSON


def combine(snapshots: Iterable[ModelStatsSnapshot]) -> list[ModelStatsSnapshot]:
    """One snapshot per (name, version): counts, durations and histograms summed, the latest
    last_inference, the earliest creation. Order: first appearance."""
    out: dict[tuple[str, str], ModelStatsSnapshot] = {}
    for s in snapshots:
        key = (s.name, s.version)
        total = out.get(key)
        if total is None:
            out[key] = from_json(to_json(s))
            continue
        total.last_inference_ms = max(total.last_inference_ms, s.last_inference_ms)
        total.inference_count += s.inference_count
        total.execution_count += s.execution_count
        total.in_flight += s.in_flight
        total.created = min(total.created, s.created) if total.created and s.created else total.created or s.created
        for name in _DURATIONS:
            getattr(total, name).add(getattr(s, name).ns, getattr(s, name).count)
        for size, b in s.batches.items():
            into = total.batches.setdefault(size, BatchStats())
            for part in ("compute_input", "compute_infer", "compute_output"):
                getattr(into, part).add(getattr(b, part).ns, getattr(b, part).count)
        for status, n in s.requests.items():
            total.requests[status] = total.requests.get(status, 0) + n
        for name in _HISTOGRAMS:
            into_h, h = getattr(total, name), getattr(s, name)
            into_h.counts = [a + b for a, b in zip(into_h.counts, h.counts)]
            into_h.sum += h.sum
    return list(out.values())


def to_json(s: ModelStatsSnapshot) -> dict:
    """A JSON-able dict of the snapshot (a copy: nothing in it is shared with `s`)."""
    doc: dict = {"name": s.name, "version": s.version, "last_inference_ms": s.last_inference_ms,
                 "inference_count": s.inference_count, "execution_count": s.execution_count,
                 "in_flight": s.in_flight, "created": s.created, "requests": dict(s.requests)}
    for name in _DURATIONS:
        d = getattr(s, name)
        doc[name] = [d.count, d.ns]
    doc["batches"] = {str(size): [[d.count, d.ns] for d in (b.compute_input, b.compute_infer, b.compute_output)]
                      for size, b in s.batches.items()}
    for name in _HISTOGRAMS:
        h = getattr(s, name)
        doc[name] = {"counts": list(h.counts), "sum": h.sum}
    return doc


def from_json(doc: dict) -> ModelStatsSnapshot:
    s = ModelStatsSnapshot(doc["name"], doc["version"], doc["last_inference_ms"], doc["inference_count"],
                           doc["execution_count"], in_flight=doc.get("in_flight", 0), created=doc.get("created", 0.0),
                           requests=dict(doc.get("requests", {})))
    for name in _DURATIONS:
        count, ns = doc[name]
        setattr(s, name, Duration(count, ns))
    for size, parts in doc["batches"].items():
        s.batches[int(size)] = BatchStats(*(Duration(c, ns) for c, ns in parts))
    for name in _HISTOGRAMS:
        h = doc.get(name)
        if h is not None:
            setattr(s, name, Histogram(list(h["counts"]), h["sum"]))
    return s
