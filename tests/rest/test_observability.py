"""OpenTelemetry spans over gRPC and REST when tracing is on (the exporter is an in-memory one in
place of the OTLP exporter the OTEL_* variables would name), none when off; the process gauges on
/metrics."""

from __future__ import annotations

import urllib.request

import numpy as np
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from client import InferenceClient
from server_core import process_metrics, tracing
from server_core.metrics import Metrics
from server_core.repository import RepositoryBackend
from server_core.runner import BackgroundServer
from server_core.settings import ServerSettings
from tests.support.echo import EchoLoader

from .http import send

PAIR = {"INPUT0": np.ones((1, 16), np.float32), "INPUT1": np.ones((1, 16), np.float32)}
BODY = {"inputs": [{"name": n, "datatype": "FP32", "shape": [1, 16], "data": [1.0] * 16} for n in PAIR]}


def _traffic(srv):
    with InferenceClient(srv.address) as c:
        c.infer("add_sub", PAIR)
    assert send(f"http://127.0.0.1:{srv.server.http_port}/v2/models/add_sub/infer", BODY)[0] == 200


@pytest.mark.parametrize("enabled", [True, False])
def test_spans_cover_grpc_and_rest_only_when_enabled(monkeypatch, enabled):
    exporter = InMemorySpanExporter()
    monkeypatch.setattr(tracing, "_exporter_from_environment", lambda: exporter)
    with BackgroundServer(RepositoryBackend(EchoLoader()), ServerSettings(http_port=0, tracing=enabled)) as srv:
        _traffic(srv)
    names = [s.name for s in exporter.get_finished_spans()]  # flushed when the server stopped
    if not enabled:
        assert names == []
        return
    assert "/inference.GRPCInferenceService/ModelInfer" in names, names
    assert "POST /v2/models/add_sub/infer" in names, names


def test_the_exporter_follows_otel_traces_exporter(monkeypatch):
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert tracing._exporter_from_environment() is None
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin_json")
    with pytest.raises(ValueError, match="OTEL_TRACES_EXPORTER"):
        tracing._exporter_from_environment()


def test_process_gauges_are_on_metrics():
    metrics = Metrics()
    settings = ServerSettings(metrics_port=0)
    with BackgroundServer(RepositoryBackend(EchoLoader(metrics)), settings, metrics) as srv:
        url = f"http://127.0.0.1:{srv.server.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as r:
            text = r.read().decode()
    rss = [line for line in text.splitlines() if line.startswith("tandem_process_resident_bytes ")]
    assert rss and float(rss[0].split()[1]) > 1e6, rss
    assert any(line.startswith("tandem_process_cpu_percent ") for line in text.splitlines())


class _FakeNvml:
    """NVML cannot run here (no NVIDIA driver): a stand-in with one GPU."""

    class _Util:
        gpu = 37

    class _Mem:
        used = 123456

    def nvmlDeviceGetCount(self):  # noqa: N802 - NVML's names
        return 1

    def nvmlDeviceGetHandleByIndex(self, i):  # noqa: N802
        return i

    def nvmlDeviceGetUtilizationRates(self, handle):  # noqa: N802
        return self._Util()

    def nvmlDeviceGetMemoryInfo(self, handle):  # noqa: N802
        return self._Mem()


def test_gpu_gauges_where_nvml_works_and_absent_where_not():
    with_gpu = {m.name: m for m in process_metrics.ProcessCollector(nvml=_FakeNvml()).collect()}
    assert with_gpu["tandem_gpu_utilization_percent"].samples[0].value == 37
    assert with_gpu["tandem_gpu_memory_used_bytes"].samples[0].labels == {"gpu": "0"}
    collector = process_metrics.ProcessCollector()
    collector._nvml = None  # as on a machine without NVML
    assert not [m for m in collector.collect() if m.name.startswith("tandem_gpu")]
