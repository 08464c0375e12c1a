"""The table's logic: ratios and differences against targets, rows without a number, notes that say
what limits a missed target, the scale row's guard on small machines, the profile summary."""

from __future__ import annotations

import dataclasses

from bench import scale
from bench.__main__ import render
from bench.harness import Row, Settings, Summary
from bench.profiling import _top_raw


def _row(subject: float, baseline: float, target: str, unit: str = "req/s", **kw) -> Row:
    return Row("torch", "MLP", "torch_service", "echo", unit, target, subject, baseline, **kw)


def _load(server_cores: float, client_cores: float = 0.2, p50_ms: float = 1.0) -> Summary:
    return Summary(rps=1000.0, p50_ms=p50_ms, items_per_s=1000.0, client_cores=client_cores, server_cores=server_cores)


def test_ratio_targets():
    assert _row(900, 1000, ">= 0.8").met is True
    assert _row(700, 1000, ">= 0.8").met is False
    assert _row(1.2, 1.0, "<= 1.3", "ms").met is True
    assert _row(1.4, 1.0, "<= 1.3", "ms").met is False
    assert abs(_row(700, 1000, ">= 0.8").value - 0.7) < 1e-9


def test_difference_targets():
    row = _row(2.2, 1.9, "adds <= 0.5", "ms")
    assert abs(row.value - 0.3) < 1e-9 and row.met is True
    assert _row(2.6, 1.9, "adds <= 0.5", "ms").met is False


def test_rows_without_a_number_or_a_target():
    assert Row("peers", "MLP", "torch_service", "KServe", "req/s", ">= 1.5", skipped="no network").met is None
    assert _row(1000, 500, "shown").met is None


def test_limits_name_the_bound():
    gil = _row(700, 1000, ">= 0.8", subject_load=_load(1.0), baseline_load=_load(0.9))
    assert "Python thread" in gil.limits()
    full = _row(700, 1000, ">= 0.8", subject_load=_load(1.5, 0.5), baseline_load=_load(0.9))
    assert "cores are full" in full.limits()
    beside = _row(5, 9, ">= 0.9", "images/s", subject_load=_load(1.0, float("nan")),
                  baseline_load=_load(1.0, float("nan")))
    assert "work beside the forward" in beside.limits()
    waiting = _row(5, 9, ">= 0.9", "images/s", subject_load=_load(0.5, float("nan")),
                   baseline_load=_load(1.0, float("nan")))
    assert "waiting" in waiting.limits()
    latency = _row(1.9, 1.0, "<= 1.3", "ms", subject_load=_load(0.5, p50_ms=1.9),
                   baseline_load=_load(0.5, p50_ms=1.0), per_request="decode, forward, encode")
    assert "+0.90 ms" in latency.limits() and "decode, forward, encode" in latency.limits()
    assert "the target leaves 0.30 ms beyond the baseline" in latency.limits()
    hop = _row(2.6, 1.9, "adds <= 0.5", "ms", subject_load=_load(0.5, p50_ms=2.6), baseline_load=_load(0.5, p50_ms=1.9))
    assert "the target leaves 0.50 ms beyond the baseline" in hop.limits()


def test_limits_quote_what_the_service_counted():
    counted = dataclasses.replace(_load(1.0), inside="inside the server (its ModelStatistics over these rounds) ...")
    row = _row(700, 1000, ">= 0.8", subject_load=counted, baseline_load=_load(0.9))
    assert row.limits().endswith("; inside the server (its ModelStatistics over these rounds) ...")
    assert ";" not in _row(700, 1000, ">= 0.8", subject_load=_load(1.0), baseline_load=_load(0.9)).limits()


def test_a_near_miss_shows_enough_digits_not_to_read_as_met():
    near = _row(596, 1000, ">= 0.6", generator="perf_analyzer", subject_load=_load(1.0), baseline_load=_load(0.9))
    line = render([near]).splitlines()[2]
    assert "0.596x" in line and " NO " in line
    assert "0.70x" in render([_row(700, 1000, ">= 0.8")]).splitlines()[2]
    assert "+0.504 ms" in render([_row(2.404, 1.9, "adds <= 0.5", "ms")]).splitlines()[2]


def test_render_prints_target_met_and_notes():
    rows = [_row(900, 1000, ">= 0.8", generator="perf_analyzer", subject_load=_load(0.8), baseline_load=_load(0.9)),
            _row(700, 1000, ">= 0.8", generator="perf_analyzer", subject_load=_load(1.0), baseline_load=_load(0.9)),
            Row("peers", "MLP", "torch_service", "KServe", "req/s", ">= 1.5", skipped="KServe could not be installed")]
    table = render(rows)
    lines = table.splitlines()
    assert "0.90x" in lines[2] and " yes " in lines[2]
    assert "0.70x" in lines[3] and " NO " in lines[3] and "[1]" in lines[3]
    assert "[2]" in lines[4]
    assert "[1] torch, MLP: limits: " in table and "--profile" in table
    assert "[2] peers, MLP: KServe could not be installed" in table


def test_scale_says_so_on_small_machines(monkeypatch, tmp_path):
    monkeypatch.setattr(scale.os, "cpu_count", lambda: 2)
    [row] = scale.run(Settings(quick=True, workdir=tmp_path))
    assert row.skipped.startswith("2 cores: not measured") and row.met is None


def test_profile_summary(tmp_path):
    raw = tmp_path / "p.txt"
    raw.write_text("\n".join([
        'process 1:"python -m torch_service";run (server_core/server.py:270);run (asyncio/runners.py:118);'
        "_run_once (asyncio/base_events.py:1922);_run (asyncio/events.py:80) 60",
        'process 1:"python -m torch_service";run (server_core/server.py:270);run (asyncio/runners.py:118);'
        "ModelInfer (server_core/servicer.py:50);decode (server_core/codec.py:12) 30",
        'process 1:"python -m torch_service";Thread._bootstrap (threading.py:1002);run (threading.py:982) 10',
    ]))
    summary = _top_raw(raw)
    assert summary.startswith("self: 60% events.py:_run, 30% codec.py:decode, 10% threading.py:run")
    assert "outside project code: 60% the event loop outside project coroutines" in summary
    assert "10% threads without project code" in summary
    assert summary.endswith("project functions: 30% codec.py:decode")
