"""`python -m loadtests diff` on real comparisons: two targets measured, then measured again with one
of them slowed on purpose (its model sleeps 50 ms per execution: tests/loadtests/echo_variants.py):
the slowed target is a regression and diff exits 1, so it can gate CI. The slowed target serves at
most 2 users / 50 ms = 40 req/s, an order of magnitude below the same server unslowed even on a
loaded machine; its p99 is not asserted (a loaded machine's own pauses can dominate a baseline's).
Two runs of the same setup being `within noise` is shown on data whose truth is known, in
test_stats.py: on a shared machine, real runs of the same setup can differ for real."""

from __future__ import annotations

import json
import re

from .conftest import echo_server, run_module
from .echo_variants import SLOW_S, Slowed


def _compare(out, a: str, b: str):
    proc = run_module("compare", "--target", f"a=grpc://{a}", "--target", f"b=grpc://{b}", "--model", "add_sub",
                      "--rounds", "2", "--users", "2", "--duration", "1s", "--warmup", "0.5s", "--quiet",
                      "--out", str(out), timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def test_a_target_slowed_on_purpose_is_a_regression_and_diff_exits_1(tmp_path):
    with echo_server() as a, echo_server() as b, echo_server(Slowed()) as slow_b:
        base = _compare(tmp_path / "base", a.address, b.address)
        current = _compare(tmp_path / "current", a.address, slow_b.address)
    (model,) = json.loads((current / "report.json").read_text())["models"]
    slowed_rps = next(t["requests"]["rps"] for t in model["targets"] if t["name"] == "b")
    assert slowed_rps <= 1.1 * 2 / SLOW_S  # 2 users; each execution (of one or both requests) sleeps SLOW_S
    proc = run_module("diff", str(base), str(current / "report.json"), "--json", str(tmp_path / "diff.json"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert re.search(r"^add_sub b: req/s -\d+\.\d % \[.*\], p99 [+-]\d+\.\d % \[.*\]: regression$", proc.stdout,
                     re.M), proc.stdout
    result = json.loads((tmp_path / "diff.json").read_text())
    (slowed,) = [r for r in result["rows"] if r["target"] == "b"]
    assert slowed["verdict"] == "regression" and slowed["rps"]["high"] < 0.95
    assert slowed["line"] in result["regressions"]
