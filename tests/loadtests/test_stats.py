"""The statistics on synthetic data whose truth is known: per-second records drawn from set rates and
latency distributions, so the intervals must hold the true ratios, and `diff` must tell a slowed target
from the same setup run twice. No server, no Locust, no clock."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from loadtests.cli import main
from loadtests.render.report import SCHEMA
from loadtests.run.plan import CompareConfig
from loadtests.run.server_time import split
from loadtests.stats import bootstrap, diff, seconds, sweep, verdicts
from loadtests.targets import parse_target

SIGMA = 0.25  # lognormal latency spread: p99 / p50 = exp(2.326 * SIGMA) for every target alike


def record(rng: np.random.Generator, rate: float, median_ms: float, n_seconds: int = 20) -> dict:
    """One round's per-second record: Poisson(rate) ok requests a second, lognormal latencies."""
    counts = rng.poisson(rate, n_seconds)
    t = np.concatenate([i + np.sort(rng.random(c)) for i, c in enumerate(counts)])
    ms = median_ms * np.exp(SIGMA * rng.standard_normal(t.size))
    return seconds.records(t, ms, np.ones(t.size, dtype=bool), float(n_seconds))


def rounds(seed: int, rates: list[float], median_ms: float) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [record(rng, r, median_ms) for r in rates]


def data(recs: list[dict]) -> bootstrap.Data:
    return bootstrap.Data.from_records(recs)


def test_interval_holds_a_known_ratio_and_calls_it_significant():
    torch = data(rounds(1, [100, 100, 100], median_ms=10.0))
    tf = data(rounds(2, [131, 131, 131], median_ms=7.2))
    v = verdicts.pair("torch", torch, "tf", tf)
    rps, p99, p50 = v["rps"], v["p99_ms"], v["p50_ms"]
    assert rps["low"] <= 1.31 <= rps["high"] and rps["low"] > 1.2 and rps["high"] < 1.42
    assert p99["low"] <= 0.72 <= p99["high"] and p99["high"] < 1
    assert p50["low"] <= 0.72 <= p50["high"]
    assert v["significant"] and v["verdict"] == "significant"
    assert v["line"].startswith("tf 1.3") and "x torch req/s [" in v["line"] and ", p99 -2" in v["line"]
    assert v["line"].endswith(": significant")


def test_the_same_setup_twice_is_within_noise():
    a = data(rounds(3, [200, 200, 200], median_ms=5.0))
    b = data(rounds(4, [200, 200, 200], median_ms=5.0))
    v = verdicts.pair("a", a, "b", b)
    assert v["rps"]["low"] <= 1 <= v["rps"]["high"] and v["p99_ms"]["low"] <= 1 <= v["p99_ms"]["high"]
    assert v["verdict"] == "within noise" and v["line"].endswith(": within noise")


def test_run_to_run_noise_widens_the_interval():
    steady = data(rounds(5, [100, 100, 100, 100], median_ms=5.0))
    other = data(rounds(6, [100, 100, 100, 100], median_ms=5.0))
    drifting = data(rounds(6, [70, 130, 85, 115], median_ms=5.0))  # same mean, rounds far apart

    def width(r):
        return r["rps"]["high"] - r["rps"]["low"]

    assert width(bootstrap.ratio(steady, drifting)) > 2 * width(bootstrap.ratio(steady, other))
    # a difference as large as the rounds' own spread is not called real
    assert verdicts.pair("s", steady, "d", drifting)["verdict"] == "within noise"


def test_intervals_are_reproducible_and_the_method_is_stated():
    a, b = data(rounds(7, [50, 60], 3.0)), data(rounds(8, [55, 65], 3.5))
    assert bootstrap.ratio(a, b) == bootstrap.ratio(a, b)
    assert "bootstrap" in bootstrap.method(3) and "one round only" in bootstrap.method(1)
    assert "one round only" not in bootstrap.method(2)


def test_a_target_without_data_is_not_measured():
    v = verdicts.pair("a", data(rounds(9, [50], 3.0)), "b", bootstrap.Data([]))
    assert v["verdict"] == "not measured" and not v["significant"] and v["rps"]["ratio"] is None
    assert [(p["a"], p["b"]) for p in verdicts.all_pairs({"x": data([]), "y": data([]), "z": data([])})] == [
        ("x", "y"), ("x", "z"), ("y", "z")]


def test_rounds_rotate_the_order():
    targets = [parse_target(f"{n}=127.0.0.1:{8000 + i}") for i, n in enumerate("ABC")]
    config = CompareConfig(targets=targets, model="m")
    assert ["".join(t.name for t in config.order(r)) for r in range(4)] == ["ABC", "BCA", "CAB", "ABC"]


def test_server_time_split_is_per_request_over_the_window():
    before = {"inference_count": 10, "execution_count": 5, "success": [10, 10_000_000],
              "queue": [10, 2_000_000], "compute_input": [10, 1_000_000], "compute_infer": [10, 5_000_000],
              "compute_output": [10, 1_000_000], "batches": {"1": 3, "4": 2}}
    after = {"inference_count": 30, "execution_count": 10, "success": [30, 50_000_000],
             "queue": [30, 12_000_000], "compute_input": [30, 3_000_000], "compute_infer": [30, 25_000_000],
             "compute_output": [30, 3_000_000], "batches": {"1": 3, "4": 7}}
    s = split(before, after)
    assert s["requests"] == 20 and s["executions"] == 5
    assert (s["success_ms"], s["queue_ms"], s["compute_input_ms"], s["compute_infer_ms"], s["compute_output_ms"]) \
        == (2.0, 0.5, 0.1, 1.0, 0.1)
    assert s["batch_sizes"] == {"4": 5}
    assert split(None, after) is None and split(after, after) is None


def test_sweep_picks_the_highest_throughput_under_the_slo():
    table = [{"step": 1, "users": 1, "rps": 100, "p99_ms": 5}, {"step": 2, "users": 2, "rps": 180, "p99_ms": 9},
             {"step": 3, "users": 4, "rps": 220, "p99_ms": 30}, {"step": 4, "users": 8, "rps": 230, "p99_ms": 80}]
    assert sweep.slo_step(table, 50)["users"] == 4
    assert sweep.slo_step(table, None)["users"] == 8
    assert sweep.slo_step(table, 1) is None


# -- diff -------------------------------------------------------------------------------------------

def _report(seed: int, torch_rate: float, torch_ms: float, model: str = "digits-mlp") -> dict:
    rng = np.random.default_rng(seed)

    def target(name, rate, ms):
        return {"name": name, "rounds": [{"round": i + 1, "status": "ok", "seconds": record(rng, rate, ms)}
                                         for i in range(3)]}

    return {"schema": SCHEMA, "models": [{"model": model, "settings": {"scenario": "throughput", "rounds": 3},
                                          "targets": [target("torch", torch_rate, torch_ms),
                                                      target("tf", 150, 6.0)]}]}


def _write(folder, report) -> str:
    folder.mkdir()
    (folder / "report.json").write_text(json.dumps(report))
    return str(folder)


def test_diff_of_the_same_setup_is_within_noise_exit_0(tmp_path, capsys):
    base = _write(tmp_path / "base", _report(10, 120, 8.0))
    cur = _write(tmp_path / "cur", _report(11, 120, 8.0))
    assert main(["diff", base, cur, "--json", str(tmp_path / "d.json")]) == 0
    out = capsys.readouterr().out
    assert "digits-mlp torch: req/s " in out and out.count(": within noise") == 2
    result = json.loads((tmp_path / "d.json").read_text())
    assert result["regressions"] == [] and "bootstrap" in result["method"]


def test_diff_of_a_slowed_target_is_a_regression_exit_1(tmp_path, capsys):
    base = _write(tmp_path / "base", _report(10, 120, 8.0))
    cur = _write(tmp_path / "cur", _report(12, 90, 11.0))  # torch 25 % slower, p99 ~38 % up
    assert main(["diff", base, cur]) == 1
    out = capsys.readouterr().out
    assert "digits-mlp torch: req/s -2" in out and "regression" in out
    assert "digits-mlp tf: " in out and "1 regression(s) beyond 5%" in out
    # allowed when the tolerance is wider than the slowdown
    assert diff.compare_reports(json.loads((tmp_path / "base" / "report.json").read_text()),
                                json.loads((tmp_path / "cur" / "report.json").read_text()),
                                tolerance=0.6)["regressions"] == []


def test_diff_against_a_baseline_of_other_models_exits_2(tmp_path, capsys):
    base = _write(tmp_path / "base", _report(10, 120, 8.0, model="resnet18"))
    cur = _write(tmp_path / "cur", _report(11, 120, 8.0))
    assert main(["diff", base, cur]) == 2
    err = capsys.readouterr().err
    assert "the baseline has no result for digits-mlp (throughput)" in err and "resnet18" in err
    assert main(["diff", str(tmp_path / "nowhere"), cur]) == 2
    with pytest.raises(ValueError, match="--tolerance"):
        diff.compare_reports(_report(1, 1, 1), _report(1, 1, 1), tolerance=1.5)


def test_cdf_and_its_axis_follow_the_data():
    from loadtests.render import charts
    from loadtests.stats.aggregate import pooled_cdf

    rng = np.random.default_rng(13)
    t = np.sort(rng.random(2000)) * 4
    ms = rng.uniform(300.0, 2400.0, t.size)  # resnet18-like: nothing under 300 ms
    points = pooled_cdf([seconds.records(t, ms, np.ones(t.size, dtype=bool), 4.0)])
    assert points[0][0] == pytest.approx(ms.min(), rel=0.02) and points[0][1] == 0.0
    assert points[-1][0] == pytest.approx(ms.max(), rel=0.02) and points[-1][1] == 1.0
    svg = charts.cdf([{"name": "torch", "cdf": points}])
    ticks = [float(x) for x in re.findall(r">([\d.]+)</text>", svg.split("% of requests")[0])]
    x_ticks = [x for x in ticks if x > 100]  # the y axis' ticks are 0..100
    assert x_ticks and min(x_ticks) >= ms.min() / 1.5 and max(x_ticks) <= ms.max() * 1.5
    assert ">0.01<" not in svg and ">1<" not in svg
