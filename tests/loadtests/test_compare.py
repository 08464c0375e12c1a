"""`python -m loadtests compare` end to end against two echo servers: a short headless Locust run on
each, exact figures, resources, parity, and the three report files."""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from client.parity import run_parity
from loadtests.render.report import SCHEMA

from .conftest import run_module

DURATION_S = 2.0


@pytest.fixture(scope="module")
def compared(echo_pair, tmp_path_factory):
    torch_addr, tf_addr = echo_pair
    tmp = tmp_path_factory.mktemp("compare")
    parity = tmp / "parity.json"
    parity.write_text(json.dumps(run_parity(torch_addr, tf_addr, "add_sub", samples=16, batch_size=8).to_dict()))
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((32, 16), dtype=np.float32), rng.standard_normal((32, 16), dtype=np.float32)
    inputs = tmp / "inputs.npz"  # reference outputs of version 1: a + b and a - b
    np.savez(inputs, INPUT0=a, INPUT1=b, OUTPUT0=a + b, OUTPUT1=a - b, labels=np.arange(32))
    out = tmp / "report"
    pid = str(os.getpid())  # the echo servers run in this process
    proc = run_module("compare", "--torch", torch_addr, "--target", f"tf=grpc://{tf_addr}", "--model", "add_sub",
                      "--rounds", "2",
                      "--model-version", "1", "--inputs", str(inputs), "--batch-size", "4",
                      "--users", "2", "--duration", f"{DURATION_S:g}s", "--warmup", "0.5s",
                      "--check-rate", "0.2", "--interval", "0.2", "--torch-pid", pid, "--tf-pid", pid,
                      "--parity", str(parity), "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc, out, json.loads((out / "report.json").read_text())


def test_report_json_has_the_documented_fields_with_plausible_values(compared):
    _, _, report = compared
    assert report["schema"] == SCHEMA
    assert report["machine"]["cpu_count"] >= 1
    (model,) = report["models"]
    assert model["model"] == "add_sub" and model["complete"] is True
    assert model["settings"]["scenario"] == "throughput" and model["settings"]["batch_size"] == 4
    assert [s["name"] for s in model["targets"]] == ["torch", "tf"]
    assert [s["kind"] for s in model["targets"]] == ["grpc", "grpc"]
    assert model["settings"]["rounds"] == 2 and "bootstrap" in model["method"]
    (verdict,) = model["verdicts"]
    assert (verdict["a"], verdict["b"]) == ("torch", "tf") and verdict["verdict"] in ("significant", "within noise")
    assert verdict["rps"]["low"] <= verdict["rps"]["ratio"] <= verdict["rps"]["high"]
    assert verdict["line"].startswith("tf ") and "x torch req/s [" in verdict["line"]
    for s in model["targets"]:
        assert s["status"] == "ok" and s["message"] is None
        assert [r["round"] for r in s["rounds"]] == [1, 2] and all(r["status"] == "ok" for r in s["rounds"])
        assert all(DURATION_S - 0.01 <= r["duration_s"] for r in s["rounds"])
        round_rps = [r["requests"]["rps"] for r in s["rounds"]]
        assert s["requests"]["rps"] == pytest.approx(float(np.median(round_rps)), abs=1e-3)  # median over rounds
        assert s["server_time"]["requests"] > 0 and s["server_time"]["compute_infer_ms"] is not None
        assert s["client"]["cpu_percent"]["mean"] is not None
        req = s["requests"]
        assert req["ok"] > 0 and req["failed"] == 0 and req["error_rate"] == 0
        assert req["ok"] == sum(r["requests"]["ok"] for r in s["rounds"])
        for r in s["rounds"]:  # each round's req/s is its own ok requests over its own measured time
            assert r["requests"]["rps"] == pytest.approx(r["requests"]["ok"] / r["duration_s"], rel=1e-2)
        assert req["inferences_per_s"] == pytest.approx(req["rps"] * 4, rel=1e-3)
        lat = s["latency_ms"]
        assert lat["count"] == req["ok"]
        assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p99_9"] <= lat["max"] < 5000
        fractions = [p[1] for p in s["cdf"]]
        values = [p[0] for p in s["cdf"]]
        assert fractions == sorted(fractions) and values == sorted(values) and fractions[-1] == 1.0
        assert len(s["timeline"]["t"]) == 2 and sum(s["timeline"]["errors_per_s"]) == 0
        assert s["errors"] == []
        assert s["checks"]["sampled"] > 0 and s["checks"]["failed"] == 0  # version 1 matches the file
        assert s["reference"] == "inputs file"
        res = s["resources"]
        assert res["process"]["pid"] == os.getpid() and res["samples"] >= 5
        assert res["cpu_percent"]["mean"] > 0 and res["rss_mb"]["max"] > 10
        assert len(res["series"]["t"]) == res["samples"]
        if not res["gpu"]["available"]:
            assert res["gpu"]["reason"].startswith("no GPU")


def test_parity_section_comes_from_the_parity_json(compared):
    _, _, report = compared
    parity = report["models"][0]["parity"]
    assert parity["verdict"] == "pass"
    assert {r["name"] for r in parity["rows"]} == {"OUTPUT0", "OUTPUT1"}
    assert "max_abs_diff" in parity["columns"]


def test_html_is_self_contained_with_the_plots(compared):
    _, out, report = compared
    html = (out / "report.html").read_text()
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    svgs = re.findall(r"<svg.*?</svg>", html, re.S)
    assert len(svgs) >= 7
    for svg in svgs:
        ET.fromstring(svg)  # well-formed
    for title in ("Throughput over time", "Latency percentiles", "Latency CDF", "Errors over time",
                  "CPU of each target", "Memory of each target"):
        assert title in html
    gpu_charts = re.findall(r'class="chart-title">GPU (?:utilisation|memory)', html)
    if any(t["resources"]["gpu"]["available"] for t in report["models"][0]["targets"]):
        assert len(gpu_charts) == 2
    else:  # one line says why, instead of two empty charts
        assert "GPU figures are not shown" in html and gpu_charts == []
    assert html.count("<polyline") >= 8  # throughput, latency, CDF, errors, CPU, RSS: a line per service
    assert "Parity: " in html and "OUTPUT0" in html
    assert re.search(r"<li>A \(torch\): 127\.0\.0\.1:\d+</li><li>B \(tf\): 127\.0\.0\.1:\d+</li>", html)


def test_markdown_and_terminal_show_the_summary(compared):
    proc, out, _ = compared
    md = (out / "report.md").read_text()
    assert md.index("## Verdicts") < md.index("## Summary")  # the report opens with the verdicts
    assert re.search(r"- \*\*add_sub\*\* \(throughput\): tf \d+\.\d\dx torch req/s \[", md)
    assert "Method: hierarchical percentile bootstrap" in md
    assert "| model | scenario | target | rounds | parity |" in md
    assert re.search(r"\| add_sub \| throughput \| torch \| 2 \| pass \| not run \| \d+\.\d", md)
    assert "report.html" in proc.stdout
    assert re.search(r"add_sub\s+throughput\s+tf\s+pass\s+not run\s+\d", proc.stdout)
    assert "[4/4] round 2/2 torch" in proc.stderr  # the progress line: round 2 starts with the other target
    assert re.search(r"add_sub \(throughput\): tf \d+\.\d\dx torch req/s \[", proc.stdout)


def test_report_command_merges_comparisons(compared, tmp_path):
    _, out, report = compared
    other = json.loads(json.dumps(report))
    other["models"][0]["model"] = "add_sub_copy"
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "report.json").write_text(json.dumps(other))
    proc = run_module("report", "--in", str(out), str(tmp_path / "b" / "report.json"), "--out", str(tmp_path / "all"))
    assert proc.returncode == 0, proc.stderr
    merged = json.loads((tmp_path / "all" / "report.json").read_text())
    assert [m["model"] for m in merged["models"]] == ["add_sub", "add_sub_copy"]
    html = (tmp_path / "all" / "report.html").read_text()
    assert 'href="#model-1"' in html and html.count(">Throughput over time (median round)</text>") == 2
    assert len(re.findall(r"add_sub(_copy)?\s+throughput\s+(torch|tf)\s+pass", proc.stdout)) == 4


def test_relative_paths_are_taken_from_where_compare_runs(echo_pair, tmp_path):
    """--out, --inputs and --parity relative to the caller's folder (Locust itself runs elsewhere)."""
    import subprocess

    from .conftest import PYTHON, ROOT, env

    torch_addr, tf_addr = echo_pair
    rng = np.random.default_rng(1)
    np.savez(tmp_path / "inputs.npz", INPUT0=rng.standard_normal((4, 16), dtype=np.float32),
             INPUT1=rng.standard_normal((4, 16), dtype=np.float32))
    proc = subprocess.run([PYTHON, "-m", "loadtests", "compare", "--torch", torch_addr, "--tf", tf_addr, "--model",
                           "add_sub", "--inputs", "inputs.npz", "--rounds", "1", "--users", "1", "--duration", "1s",
                           "--warmup", "0s", "--quiet", "--out", "out"], cwd=tmp_path, env=env(), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert str(ROOT) != str(tmp_path)
    (model,) = json.loads((tmp_path / "out" / "report.json").read_text())["models"]
    assert [t["status"] for t in model["targets"]] == ["ok", "ok"] and model["inputs"].startswith("inputs.npz")
