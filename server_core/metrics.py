"""Prometheus metrics of a server, on a registry of its own (no global state)."""

from __future__ import annotations

import prometheus_client as prom

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

    def serve(self, host: str, port: int):
        """Start the /metrics HTTP endpoint; returns (server, thread) — call server.shutdown() to stop."""
        return prom.start_http_server(port, addr=host, registry=self.registry)
