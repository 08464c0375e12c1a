"""Behaviour parity beside numeric parity in the comparison's reports: `compare --behaviour FILE`
shows the document `python -m client parity --behaviour --json` wrote (a table of status per case,
counts same/different, in report.json, report.md, report.html and the summary); the main job's own
step writes it and fails the model when the sides differ in status. Against real echo servers, one
pair alike and one pair that differs on purpose (tests/loadtests/echo_variants.py)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from client.parity import run_parity
from loadtests.render import summary, tables
from loadtests.run import behaviour as behaviour_mod
from loadtests.run.mainjob import run_behaviour

from .conftest import ROOT, env, run_module
from .echo_variants import DIFFERING_CASES, differing_pair


@pytest.fixture(scope="module")
def differing():
    with differing_pair() as addresses:
        yield addresses


def _behaviour_json(tmp_path, a, b) -> str:
    path = tmp_path / "behaviour.json"
    proc = subprocess.run([sys.executable, "-m", "client", "parity", "--behaviour", "--a", a, "--b", b,
                           "--model", "add_sub", "--json", str(path)], cwd=ROOT, env=env(), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr
    return str(path)


def test_compare_shows_behaviour_parity_beside_numeric_parity(echo_pair, tmp_path):
    a, b = echo_pair
    behaviour = _behaviour_json(tmp_path, a, b)
    (tmp_path / "parity.json").write_text(json.dumps(run_parity(a, b, "add_sub", samples=8, batch_size=4).to_dict()))
    out = tmp_path / "out"
    proc = run_module("compare", "--torch", a, "--tf", b, "--model", "add_sub", "--rounds", "1", "--users", "1",
                      "--duration", "1s", "--warmup", "0s", "--parity", str(tmp_path / "parity.json"),
                      "--behaviour", behaviour, "--quiet", "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (model,) = json.loads((out / "report.json").read_text())["models"]
    section = model["behaviour"]
    counts = section["counts"]
    assert section["verdict"] == "pass" and section["source"] == behaviour
    assert counts["cases"] >= 30 and counts["same_status"] == counts["cases"] and counts["different_status"] == 0
    assert len(section["cases"]) == counts["cases"] and section["cases"][0]["a"]["code"] == "OK"
    cell = f"pass ({counts['cases']}/{counts['cases']})"
    md = (out / "report.md").read_text()
    assert md.index("### Parity: PASS") < md.index("### Behaviour parity: PASS")
    assert f"| add_sub | throughput | torch | 1 | pass | {cell} |" in md
    assert re.search(r"- A \(torch\): 127\.0\.0\.1:\d+", md)
    assert "| case | family | expected | torch | tf | same | message | failure |" in md
    assert "| batch of 17 rows | batch | any | INVALID_ARGUMENT | INVALID_ARGUMENT | yes |" in md
    html = (out / "report.html").read_text()
    assert "Behaviour parity (bad requests)" in html and "<details><summary>the " in html  # folded: all passed
    assert re.search(r"add_sub\s+throughput\s+torch\s+pass\s+" + re.escape(cell), proc.stdout)


def test_sides_that_differ_in_status_fail_and_the_report_says_where(differing, tmp_path):
    a, b = differing
    doc = run_behaviour(a, b, "add_sub", tmp_path)  # the main job's step
    assert doc["passed"] is False and doc["exit_code"] == 1
    assert json.loads((tmp_path / "behaviour.json").read_text()) == doc
    section = behaviour_mod.read(tmp_path / "behaviour.json", "add_sub")
    assert section["verdict"] == "fail"
    assert section["counts"]["different_status"] == len(DIFFERING_CASES)
    differ = [c for c in section["cases"] if not c["same_status"]]
    assert [(c["name"], c["a"]["code"], c["b"]["code"]) for c in differ] == [
        (name, "INVALID_ARGUMENT", "OK") for name in DIFFERING_CASES]
    targets = [{"name": "torch", "address": a}, {"name": "tf", "address": b}]  # the sides named as in a report
    lines = tables.behaviour_lines(section, targets)
    assert lines[:2] == [f"A (torch): {a}", f"B (tf): {b}"]
    assert f"{section['counts']['cases'] - 2} with the same status on both sides, 2 with a different one" in lines[2]
    header, rows = tables.behaviour_rows(section, targets)
    assert header == ["case", "family", "expected", "torch", "tf", "same", "message", "failure"]
    (row,) = [r for r in rows if r[0] == "batch of 17 rows"]
    assert row[1:6] == ["batch", "any", "INVALID_ARGUMENT", "OK", "NO"]
    assert row[6].startswith("torch: input 'INPUT0': batch of 17 rows") and "| tf:" not in row[6]  # OK says nothing
    assert row[7] == "statuses differ: INVALID_ARGUMENT on A, OK on B"
    assert summary.behaviour_cell(section) == f"fail ({section['counts']['cases'] - 2}/{section['counts']['cases']})"


def test_a_behaviour_file_that_does_not_fit_stops_compare_before_load(echo_pair, tmp_path):
    a, b = echo_pair
    other = tmp_path / "other.json"
    doc = json.loads(open(_behaviour_json(tmp_path, a, b)).read())
    other.write_text(json.dumps({**doc, "model": "resnet18"}))
    common = ("compare", "--torch", a, "--tf", b, "--model", "add_sub", "--quiet", "--out", str(tmp_path / "o"))
    proc = run_module(*common, "--behaviour", str(other))
    assert proc.returncode == 2
    assert f"behaviour file {other} has no result for model 'add_sub' (it covers: resnet18)" in proc.stderr
    (tmp_path / "parity-only.json").write_text(json.dumps({"schema": "tandem.parity/1", "model": "add_sub"}))
    proc = run_module(*common, "--behaviour", str(tmp_path / "parity-only.json"))
    assert proc.returncode == 2 and "holds no tandem.behaviour/1 document" in proc.stderr
    assert not (tmp_path / "o" / "report.json").exists()
