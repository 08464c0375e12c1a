"""Exact samples: windows, percentiles, CDF, timeline, and the worker -> master payloads."""

from __future__ import annotations

import numpy as np
import pytest

from loadtests.stats.samples import CHECK_FAILED, CHECK_PASSED, SampleStore, cdf, summarize, timeline, window_stats


def _store(rng, start=1000.0, seconds=10.0, n=2000) -> SampleStore:
    store = SampleStore()
    for t, ms in zip(np.sort(rng.uniform(start, start + seconds, n)), rng.lognormal(0, 0.5, n)):
        store.add(float(t), float(ms))
    return store


def test_percentiles_are_exact_and_the_warmup_is_left_out():
    rng = np.random.default_rng(0)
    store = _store(rng)
    store.add(1000.5, 99999.0)  # a warm-up outlier
    start, end = 1002.0, 1010.0
    s = summarize(store, start, end, batch_size=4)
    t = np.asarray(store.t)
    kept = np.asarray(store.ms)[(t >= start) & (t <= end)]
    assert s["latency_ms"]["count"] == kept.size
    assert s["latency_ms"]["p99"] == pytest.approx(np.percentile(kept, 99), abs=1e-3)
    assert s["latency_ms"]["p99_9"] == pytest.approx(np.percentile(kept, 99.9), abs=1e-3)
    assert s["latency_ms"]["max"] < 99999
    assert s["requests"]["rps"] == pytest.approx(kept.size / 8.0, rel=1e-3)
    assert s["requests"]["inferences_per_s"] == pytest.approx(4 * kept.size / 8.0, rel=1e-3)
    assert len(s["timeline"]["t"]) == 8


def test_errors_and_checks_are_counted_per_window():
    store = SampleStore()
    store.add(1.0, 5.0, ("UNAVAILABLE", "down"))  # in the warm-up
    store.add(3.0, 1.0, check=CHECK_PASSED)
    store.add(3.5, 1.0, ("WRONG_ANSWER", "output 'y' differs"), check=CHECK_FAILED)
    store.add(4.0, 2.0, ("WRONG_ANSWER", "output 'y' differs"), check=CHECK_FAILED)
    s = summarize(store, 2.0, 5.0)
    assert s["errors"] == [{"kind": "WRONG_ANSWER", "count": 2, "examples": ["output 'y' differs"]}]
    assert s["checks"] == {"sampled": 3, "passed": 1, "failed": 2}
    assert s["requests"] == {"total": 3, "ok": 1, "failed": 2, "error_rate": pytest.approx(2 / 3, abs=1e-6),
                             "rps": pytest.approx(1 / 3, abs=1e-3), "inferences_per_s": pytest.approx(1 / 3, abs=1e-3)}
    assert s["latency_ms"]["count"] == 1  # latency of successful requests only


def test_drain_and_merge_move_every_sample():
    rng = np.random.default_rng(1)
    worker_a, worker_b = _store(rng, n=300), _store(rng, n=200)
    worker_b.add(1001.0, 3.0, ("DEADLINE_EXCEEDED", "slow"))
    master = SampleStore()
    master.merge(worker_a.drain())
    master.merge(worker_b.drain())
    assert len(worker_a) == len(worker_b) == 0
    assert len(master) == 501
    assert master.errors(0, 2000) == [{"kind": "DEADLINE_EXCEEDED", "count": 1, "examples": ["slow"]}]


def test_cdf_is_monotonic_and_dense_in_the_tail():
    ms = np.random.default_rng(2).exponential(2.0, 10_000)
    points = cdf(ms)
    values, fractions = zip(*points)
    assert list(values) == sorted(values) and list(fractions) == sorted(fractions)
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and values[-1] == pytest.approx(ms.max(), abs=1e-3)
    assert sum(f >= 0.99 for f in fractions) >= 90  # half of the points describe the top 1 %
    assert cdf(np.array([])) == []


def test_timeline_buckets_and_a_short_last_one():
    t = np.array([0.1, 0.2, 1.5, 2.95, 3.05])
    ms = np.array([1.0, 3.0, 2.0, 4.0, 5.0])
    ok = np.array([True, True, False, True, True])
    tl = timeline(t, ms, ok, duration=3.1)  # the last 0.1 s joins the third bucket
    assert tl["t"] == [1.0, 2.0, 3.1]
    assert tl["rps"] == [2.0, 0.0, pytest.approx(2 / 1.1, abs=1e-3)]
    assert tl["errors_per_s"] == [0.0, 1.0, 0.0]
    assert tl["p50_ms"] == [2.0, None, 4.5]


def test_window_stats_for_the_ramp():
    store = SampleStore()
    for i in range(100):
        store.add(10 + i / 100, 1.0 + (i == 99) * 100, ("UNAVAILABLE", "x") if i < 2 else None)
    w = window_stats(store, 10.0, 11.0)
    assert w["requests"] == 100 and w["error_rate"] == pytest.approx(0.02)
    assert w["rps"] == pytest.approx(98.0)
    assert w["p99_ms"] > 1.0 and w["p50_ms"] == 1.0
