"""Prometheus metrics of a server, on a registry of its own (no global state), and the HTTP endpoint
that serves them: `GET /metrics` (HEAD too) and nothing else (404 on any other path, 405 on other
methods), so a health probe aimed at the metrics port by mistake fails instead of "succeeding".

The request metrics are rendered at scrape time from the models' `ModelStats` (server_core.stats):
serving a request touches no Prometheus object. Per model and version:

    tandem_requests_total{model,version,status}     requests by final status (OK, INVALID_ARGUMENT, ...)
    tandem_request_latency_seconds                  end-to-end request latency (histogram)
    tandem_queue_latency_seconds                    time a request waited for a batch (histogram)
    tandem_inference_latency_seconds                model execution time per batch (histogram)
    tandem_batch_size                               requests per model execution (histogram)
    tandem_in_flight_requests                       requests accepted and not yet answered (gauge)

Every version ever loaded keeps its series (a reloaded version's counters continue where they were).
With `--processes N` the parent renders the same families summed over its workers
(`snapshots=` a function returning every worker's snapshots).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import prometheus_client as prom
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from .stats import BATCH_BUCKETS, LATENCY_BUCKETS, ModelStats, ModelStatsSnapshot, combine

METRICS_PATH = "/metrics"


class Metrics:
    def __init__(self, namespace: str = "tandem",
                 snapshots: Callable[[], Iterable[ModelStatsSnapshot]] | None = None):
        """`snapshots`: where the request metrics come from instead of the models tracked here."""
        self.namespace = namespace
        self.registry = prom.CollectorRegistry(auto_describe=True)
        self._tracked: list[ModelStats] = []
        self._lock = threading.Lock()
        self._snapshots = snapshots or self.local_snapshots
        self.registry.register(_RequestCollector(weakref.ref(self)))

    def track(self, stats: ModelStats) -> None:
        """Render `stats` from now on (called by ModelStats itself)."""
        with self._lock:
            self._tracked.append(stats)

    def local_snapshots(self) -> list[ModelStatsSnapshot]:
        """Every tracked version's counters, one snapshot per (model, version) (reloads summed)."""
        with self._lock:
            tracked = list(self._tracked)
        return combine(s.snapshot() for s in tracked)

    def snapshots(self) -> Iterable[ModelStatsSnapshot]:
        return self._snapshots()

    def render(self) -> bytes:
        return prom.generate_latest(self.registry)

    def bind(self, host: str, port: int) -> MetricsEndpoint:
        """The /metrics endpoint with its port bound (OSError when it cannot be); `start()` serves it."""
        return MetricsEndpoint(self, host, port)


class _RequestCollector(Collector):
    def __init__(self, metrics: weakref.ReferenceType):
        self._metrics = metrics

    def collect(self):
        metrics = self._metrics()
        if metrics is None:
            return
        ns = metrics.namespace
        labels = ["model", "version"]
        requests = CounterMetricFamily(f"{ns}_requests", "Inference requests by final status",
                                       labels=labels + ["status"])
        histograms = [
            (HistogramMetricFamily(f"{ns}_request_latency_seconds", "End-to-end request latency", labels=labels),
             "request_latency", LATENCY_BUCKETS),
            (HistogramMetricFamily(f"{ns}_queue_latency_seconds", "Time a request waited for a batch", labels=labels),
             "queue_latency", LATENCY_BUCKETS),
            (HistogramMetricFamily(f"{ns}_inference_latency_seconds", "Model execution time per batch",
                                   labels=labels), "compute_latency", LATENCY_BUCKETS),
            (HistogramMetricFamily(f"{ns}_batch_size", "Requests per model execution", labels=labels),
             "batch_size", BATCH_BUCKETS),
        ]
        in_flight = GaugeMetricFamily(f"{ns}_in_flight_requests", "Requests accepted and not yet answered",
                                      labels=labels)
        for s in metrics.snapshots():
            key = [s.name, s.version]
            for status in sorted(s.requests):
                requests.add_metric(key + [status], s.requests[status], created=s.created or None)
            for family, attr, bounds in histograms:
                h = getattr(s, attr)
                running, buckets = 0, []
                for bound, count in zip((*bounds, float("inf")), h.counts):
                    running += count
                    buckets.append((floatToGoString(bound), running))
                family.add_metric(key, buckets, h.sum)
            in_flight.add_metric(key, s.in_flight)
        yield requests
        for family, _, _ in histograms:
            yield family
        yield in_flight


class _Handler(BaseHTTPRequestHandler):
    metrics: Metrics  # set on the per-endpoint subclass

    def _answer(self, body: bool) -> None:
        if urlsplit(self.path).path != METRICS_PATH:
            self.send_error(404, f"only {METRICS_PATH} is served here")
            return
        data = self.metrics.render()
        self.send_response(200)
        self.send_header("Content-Type", prom.CONTENT_TYPE_LATEST)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._answer(body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(body=False)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - scrapes are not worth a log line
        pass


class MetricsEndpoint:
    """An HTTP server bound at construction; `start()` serves on a daemon thread, `stop()` closes it."""

    def __init__(self, metrics: Metrics, host: str, port: int):
        handler = type("MetricsHandler", (_Handler,), {"metrics": metrics})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.host = host
        self.port: int = self._server.server_address[1]
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="tandem-metrics", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._thread = None
        self._server.server_close()
