"""Statistics and the metrics rendered from them: counters per model version, JSON and back, summed
over the workers of --processes N, rendered as the Prometheus families the services always had."""

from __future__ import annotations

import pytest

from server_core.metrics import Metrics
from server_core.shared_stats import StatsFolder
from server_core.stats import ModelStats, combine, from_json, to_json


def _recorded(metrics=None, requests=3) -> ModelStats:
    stats = ModelStats("m", "1", metrics)
    for _ in range(requests):
        stats.request_done(True, 2_000_000, 300_000, "OK")  # 2 ms, 0.3 ms queued
    stats.request_done(False, 1_000_000, status="INVALID_ARGUMENT")
    stats.execution_done(2, 10, 1_000_000, 10)
    stats.execution_done(1, 10, 500_000, 10)
    return stats


def test_snapshots_survive_json_and_sum():
    a, b = _recorded().snapshot(), _recorded(requests=5).snapshot()
    assert to_json(from_json(to_json(a))) == to_json(a)
    (total,) = combine([a, b])
    assert total.inference_count == 8 and total.execution_count == 4
    assert total.success.count == 8 and total.fail.count == 2 and total.queue.ns == 8 * 300_000
    assert total.requests == {"OK": 8, "INVALID_ARGUMENT": 2}
    assert total.batches[2].compute_infer.count == 2 and total.batches[1].compute_infer.ns == 1_000_000
    assert sum(total.request_latency.counts) == 10 and total.request_latency.sum == pytest.approx(0.018)
    assert a.inference_count == 3  # summing copies: the parts are untouched


def test_metrics_render_the_families_from_the_statistics():
    metrics = Metrics()
    stats = _recorded(metrics)
    stats.in_flight = 2
    registry = metrics.registry
    labels = {"model": "m", "version": "1"}
    assert registry.get_sample_value("tandem_requests_total", {**labels, "status": "OK"}) == 3
    assert registry.get_sample_value("tandem_requests_total", {**labels, "status": "INVALID_ARGUMENT"}) == 1
    assert registry.get_sample_value("tandem_in_flight_requests", labels) == 2
    assert registry.get_sample_value("tandem_request_latency_seconds_bucket", {**labels, "le": "0.001"}) == 1
    assert registry.get_sample_value("tandem_request_latency_seconds_bucket", {**labels, "le": "0.0025"}) == 4
    assert registry.get_sample_value("tandem_request_latency_seconds_count", labels) == 4
    assert registry.get_sample_value("tandem_batch_size_bucket", {**labels, "le": "1.0"}) == 1
    assert registry.get_sample_value("tandem_batch_size_bucket", {**labels, "le": "+Inf"}) == 2
    assert registry.get_sample_value("tandem_queue_latency_seconds_count", labels) == 3
    reloaded = _recorded(metrics)  # a reloaded version: its series continue where they were
    assert reloaded.snapshot().inference_count == 3
    assert registry.get_sample_value("tandem_requests_total", {**labels, "status": "OK"}) == 6


def test_the_parent_renders_every_workers_published_statistics(tmp_path):
    folder = StatsFolder(tmp_path)
    folder.write(101, [_recorded().snapshot()])
    busy = _recorded(requests=4)
    busy.in_flight = 1
    folder.write(102, [busy.snapshot()])
    metrics = Metrics(snapshots=folder.totals)
    labels = {"model": "m", "version": "1"}
    assert metrics.registry.get_sample_value("tandem_requests_total", {**labels, "status": "OK"}) == 7
    assert metrics.registry.get_sample_value("tandem_in_flight_requests", labels) == 1
    folder.forget_in_flight(102)  # that worker died: its counts stay, nothing of it is in flight
    assert metrics.registry.get_sample_value("tandem_in_flight_requests", labels) == 0
    assert metrics.registry.get_sample_value("tandem_requests_total", {**labels, "status": "OK"}) == 7
    assert [s.inference_count for s in folder.read(exclude_pid=101)] == [4]
