"""The report's parts on their own: parity reading, merging, charts, inputs, options, imports."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from client.messages import ModelMetadata, TensorSpec
from loadtests.generator.checks import WrongAnswer, compare
from loadtests.generator.inputs import build_pool
from loadtests.generator.options import parse_duration
from loadtests.render import report, summary, svg
from loadtests.run import parity
from loadtests.targets import parse_target

from .conftest import ROOT

PARITY_DOC = {
    "schema": "tandem.parity/1", "passed": False, "exit_code": 1, "model": "digits-mlp",
    "a": {"url": "127.0.0.1:1", "model": "digits-mlp", "accuracy": 0.97},
    "b": {"url": "127.0.0.1:2", "model": "digits-mlp", "accuracy": 0.96},
    "tolerance": {"atol": 1e-4, "rtol": 1e-4, "min_top1_agreement": None},
    "outputs": [{"name": "logits", "datatype": "FP32", "elements": 100, "mismatched_elements": 3,
                 "max_abs_diff": 0.5, "max_rel_diff": 0.01, "mean_abs_diff": 0.001, "cosine_similarity": 0.9999,
                 "min_cosine_similarity": 0.99, "worst_sample": 4, "passed": False, "problem": None,
                 "future_metric": 7}],
    "classification": {"output": "logits", "samples": 10, "top1_agreement": 0.9},
    "failures": ["output 'logits': 3 of 100 elements outside tolerance"], "notes": [], "error": None,
}


def test_parity_reader_renders_rows_and_is_tolerant(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps([{"model": "other", "passed": True}, PARITY_DOC]))
    section = parity.read(path, "digits-mlp")
    assert section["verdict"] == "fail"
    assert section["columns"][:3] == ["name", "datatype", "max_abs_diff"] and "future_metric" in section["columns"]
    assert "worst_sample" not in section["columns"]
    assert section["rows"][0]["max_abs_diff"] == 0.5
    path.write_text(json.dumps({"results": [{"model": "m", "verdict": "PASS", "outputs": {"y": {"max_abs_diff": 0}}}]}))
    assert parity.read(path, "m")["verdict"] == "pass" and parity.read(path, "m")["rows"][0]["name"] == "y"
    path.write_text(json.dumps({"schema": "tandem.parity/1", "passed": False, "exit_code": 2,
                                "error": {"side": "B", "url": "h:1", "message": "model missing"}}))
    err = parity.read(path, "anything")
    assert err["verdict"] == "error" and err["error"] == "side B (h:1): model missing"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="is not JSON"):
        parity.read(path, "m")


def _service(name, rps):
    return {"name": name, "status": "ok", "requests": {"rps": rps}, "latency_ms": {"p50": 1.0, "p99": 2.0},
            "resources": {"cpu_percent": {"mean": 50.0}, "gpu": {"available": False, "reason": "no GPU: none"}}}


def test_merge_and_load(tmp_path):
    a = report.new_report([report.model_entry("m1", {"scenario": "throughput"}, [_service("torch", 10.0)])], machine={})
    b = report.new_report([report.model_entry("m2", {"scenario": "throughput"}, [_service("tf", 20.0)])], machine={})
    again = report.new_report([report.model_entry("m1", {"scenario": "throughput"}, [_service("torch", 11.0)])],
                              machine={})
    merged = report.merge([a, b, again])
    assert [m["model"] for m in merged["models"]] == ["m1", "m2", "m1"]  # two runs of m1: both kept
    rows = summary.summary_rows(merged)
    assert [(r["model"], r["target"], r["rps"], r["gpu"], r["parity"], r["behaviour"]) for r in rows] == [
        ("m1", "torch", 10.0, "no GPU", "not run", "not run"), ("m2", "tf", 20.0, "no GPU", "not run", "not run"),
        ("m1", "torch", 11.0, "no GPU", "not run", "not run")]
    table = summary.summary_table(merged)
    assert table.splitlines()[0].split() == ["model", "scenario", "target", "parity", "behaviour", "req/s", "p50",
                                             "ms", "p99", "ms", "CPU", "%", "GPU", "%", "status"]
    (tmp_path / "report.json").write_text(json.dumps(merged))
    assert report.load(tmp_path)["models"] == merged["models"]
    (tmp_path / "x.json").write_text(json.dumps({"schema": "something else"}))
    with pytest.raises(ValueError, match="not a Tandem load-test report"):
        report.load(tmp_path / "x.json")
    with pytest.raises(ValueError, match="nothing to merge"):
        report.merge([])


def test_charts_are_well_formed_svg():
    line = svg.line_chart([svg.Series("a & b", [0, 1, 2], [1.0, None, 3.0]), svg.Series("c", [1, 2], [2.0, 5.0])],
                          title="t <1>", x_label="x", y_label="y")
    root = ET.fromstring(line)
    assert root.tag.endswith("svg") and "a &amp; b" in line and "t &lt;1&gt;" in line
    assert line.count("<circle") == 2  # the gap leaves two single points of series "a & b"
    bars = svg.bar_chart(["p50", "p99"], [("torch", [1.0, 2.0], "#f00"), ("tf", [1.5, None], "#00f")],
                         title="bars", y_label="ms")
    assert ET.fromstring(bars) is not None and bars.count("<rect") == 3
    assert "no data" in svg.line_chart([], title="empty", x_label="x", y_label="y")
    assert svg.nice_ticks(0, 7.3) == [0, 2, 4, 6, 8]
    assert svg.log_ticks(0.3, 40) == [0.5, 1, 2, 5, 10, 20]
    ticks = svg.log_ticks(250, 380)  # resnet18's latencies: the axis follows the data (issue 10 item 7)
    assert ticks and all(250 <= t <= 380 for t in ticks) and len(ticks) >= 2


def test_pools_from_files_and_generated():
    meta = ModelMetadata("m", ("1",), "", (TensorSpec("ids", "INT64", (-1, -1)),), (TensorSpec("y", "FP32", (-1, 4)),),
                         {"ids.range": "0,10"})
    pool = build_pool(meta, batch_size=3, seed=5)
    assert len(pool) == 16 and pool.references == [None] * 16 and pool.reference_source == "first response"
    ids = next(iter(pool.inputs[0].values()))
    assert next(iter(pool.inputs[0].values())).shape[0] == 3 and ids.min() >= 0 and ids.max() < 10
    again = build_pool(meta, batch_size=3, seed=5)
    assert all(np.array_equal(a[k], b[k]) for a, b in zip(pool.inputs, again.inputs) for k in a)  # same seed
    single = ModelMetadata("s", ("1",), "", (TensorSpec("x", "FP32", (2, 2)),), (TensorSpec("y", "FP32", (2, 2)),))
    with pytest.raises(ValueError, match="takes one sample per request"):
        build_pool(single, batch_size=4)


def test_checks_compare_within_tolerance():
    want = {"y": np.array([1.0, 2.0], np.float32), "label": np.array([b"a"], dtype=object)}
    compare({"y": np.array([1.00001, 2.0], np.float32), "label": np.array([b"a"], dtype=object)}, want, 1e-4, 0)
    with pytest.raises(WrongAnswer, match="output 'y' differs") as e:
        compare({"y": np.array([1.1, 2.0], np.float32), "label": want["label"]}, want, 1e-4, 0)
    assert "max abs diff 0.1" in e.value.detail
    with pytest.raises(WrongAnswer, match="output 'label' differs"):
        compare({"y": want["y"], "label": np.array([b"b"], dtype=object)}, want, 1e-4, 0)
    with pytest.raises(WrongAnswer, match="is missing"):
        compare({}, want, 1e-4, 0)


def test_option_parsers():
    assert parse_duration("1m30s") == 90.0 and parse_duration("2.5") == 2.5 and parse_duration("1h") == 3600
    assert parse_target("a=grpc://127.0.0.1:8001").address == "127.0.0.1:8001"
    assert parse_target("a=127.0.0.1:8001").kind == "grpc"
    ts = parse_target("ts=torchserve://h:7070?model=m&encoding=npy")
    assert (ts.kind, ts.params) == ("torchserve", {"model": "m", "encoding": "npy"})
    for bad in ("", "a=", "a=127.0.0.1", "a=ftp://h:1", "a=h:0", "a=h:x", "1a=h:1", "t=torchserve://h:1?encoding=xml",
                "t=tfserving://h:1?nope=1"):
        with pytest.raises(ValueError):
            parse_target(bad)
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("5 minutes")


def test_importing_the_runner_brings_in_neither_locust_nor_gevent():
    code = ("import sys, loadtests, loadtests.cli, loadtests.run.compare, loadtests.render.report, "
            "loadtests.sampling.sampler, loadtests.stats.diff, loadtests.targets\n"
            "loadtests.cli.parser()\n"
            "bad = sorted(m for m in ('locust', 'gevent') if m in sys.modules)\n"
            "assert not bad, bad\n"
            "# the loadtests image ships no server_core (nor torch / TF): compare must not need them\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('server_core', 'torch', 'tensorflow'))\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)
