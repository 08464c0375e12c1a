"""Prometheus metrics of a server, on a registry of its own (no global state), and the HTTP endpoint
that serves them: `GET /metrics` (HEAD too) and nothing else (404 on any other path, 405 on other
methods), so a health probe aimed at the metrics port by mistake fails instead of "succeeding"."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import prometheus_client as prom

METRICS_PATH = "/metrics"

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Metrics:
    def __init__(self, namespace: str = "tandem"):
        self.registry = prom.CollectorRegistry(auto_describe=True)
        labels = ("model", "version")
        self.requests = prom.Counter("requests", "Inference requests by final status",
                                     labels + ("status",), namespace=namespace, registry=self.registry)
        self.request_latency = prom.Histogram("request_latency_seconds", "End-to-end request latency",
                                              labels, namespace=namespace, buckets=_LATENCY_BUCKETS,
                                              registry=self.registry)
        self.queue_latency = prom.Histogram("queue_latency_seconds", "Time a request waited for a batch",
                                            labels, namespace=namespace, buckets=_LATENCY_BUCKETS,
                                            registry=self.registry)
        self.compute_latency = prom.Histogram("inference_latency_seconds", "Model execution time per batch",
                                              labels, namespace=namespace, buckets=_LATENCY_BUCKETS,
                                              registry=self.registry)
        self.batch_size = prom.Histogram("batch_size", "Requests per model execution", labels,
                                         namespace=namespace, buckets=_BATCH_BUCKETS, registry=self.registry)
        self.in_flight = prom.Gauge("in_flight_requests", "Requests accepted and not yet answered", labels,
                                    namespace=namespace, registry=self.registry)

    def render(self) -> bytes:
        return prom.generate_latest(self.registry)

    def bind(self, host: str, port: int) -> MetricsEndpoint:
        """The /metrics endpoint with its port bound (OSError when it cannot be); `start()` serves it."""
        return MetricsEndpoint(self, host, port)


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
