"""The http:// target kind (OIP v2 REST) against a real torch_service started with `--http-port`: the
same service compared over gRPC and over REST in one report (same request set, answer checks,
rounds, sampling, server-time split), both REST encodings, and the bad input that stops a
comparison before any load with one line naming the target."""

from __future__ import annotations

import json

import numpy as np
import pytest

from loadtests.run import server_time
from loadtests.targets import CallError, kind_of, parse_target
from tests.support.ports import free_port

from .conftest import run_module
from .oip_service import torch_service_with_rest


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    with torch_service_with_rest(tmp_path_factory.mktemp("torch_rest")) as addresses:
        yield addresses


def _pair(rows=3, seed=0):
    rng = np.random.default_rng(seed)
    return {"INPUT0": rng.standard_normal((rows, 16)).astype(np.float32),
            "INPUT1": rng.standard_normal((rows, 16)).astype(np.float32)}


def _compare(tmp_path, *targets, model="add_sub"):
    return run_module("compare", *[a for t in targets for a in ("--target", t)], "--model", model, "--rounds", "2",
                      "--users", "2", "--duration", "1s", "--warmup", "0.5s", "--check-rate", "1", "--quiet",
                      "--out", str(tmp_path / "out"), timeout=240)


@pytest.mark.parametrize("encoding", ["json", "binary"])
def test_http_kind_states_the_signature_answers_and_keeps_statistics(service, encoding):
    grpc_address, http_address, _ = service
    rest, oip = parse_target(f"rest=http://{http_address}?encoding={encoding}"), parse_target(f"oip={grpc_address}")
    meta = kind_of(rest).metadata(rest, "add_sub", "", 10)
    assert meta == kind_of(oip).metadata(oip, "add_sub", "", 10)  # the same facts over either transport
    caller = kind_of(rest).open(rest, "add_sub", "", meta, 10)
    try:
        x = _pair()
        body, headers = request = caller.encode(x)
        assert ("Inference-Header-Content-Length" in headers) == (encoding == "binary")
        assert (b'"data":[' in body) == (encoding == "json")
        out = caller.decode(caller.call(request, 10)[0])
        np.testing.assert_array_equal(out["OUTPUT0"], x["INPUT0"] + x["INPUT1"])
        np.testing.assert_array_equal(out["OUTPUT1"], x["INPUT0"] - x["INPUT1"])
        assert out["OUTPUT0"].dtype == np.float32 and caller.live(5) is True
        with pytest.raises(CallError) as refused:  # an error answer is a failed call, grouped by its status
            caller.call(caller.encode({"INPUT0": x["INPUT0"]}), 10)
        assert refused.value.code == "INVALID_ARGUMENT" and refused.value.message.startswith("HTTP 400: ")
    finally:
        caller.close()
    # ModelStatistics and ModelConfig in their REST JSON forms read the same as over gRPC (no load in between)
    assert server_time.snapshot(rest, "add_sub") == server_time.snapshot(oip, "add_sub") is not None
    assert server_time.config(rest, "add_sub") == server_time.config(oip, "add_sub") is not None


def test_grpc_and_rest_of_one_service_in_one_report(service, tmp_path):
    grpc_address, http_address, pid = service
    proc = _compare(tmp_path, f"grpc=grpc://{grpc_address}", f"rest=http://{http_address}",
                    f"restbin=http://{http_address}?encoding=binary")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (model,) = json.loads((tmp_path / "out" / "report.json").read_text())["models"]
    targets = {t["name"]: t for t in model["targets"]}
    assert [(t["name"], t["kind"]) for t in model["targets"]] == [("grpc", "grpc"), ("rest", "http"),
                                                                   ("restbin", "http")]
    for t in targets.values():
        assert t["status"] == "ok" and [r["round"] for r in t["rounds"]] == [1, 2]
        assert t["requests"]["ok"] > 0 and t["requests"]["failed"] == 0 and t["errors"] == []
        assert t["checks"]["sampled"] > 0 and t["checks"]["failed"] == 0
        assert t["server_time"]["requests"] > 0 and t["server_time"]["compute_infer_ms"] is not None
        assert t["pid"] == pid and t["resources"]["process"]["pid"] == pid  # the one service, sampled each time
        assert t["model_config"] == targets["grpc"]["model_config"] and t["model_config"]["max_batch_size"] == 8
    assert [(v["a"], v["b"]) for v in model["verdicts"]] == [("grpc", "rest"), ("grpc", "restbin"),
                                                             ("rest", "restbin")]
    for v in model["verdicts"]:  # e.g. "rest 0.61x grpc req/s [0.52, 0.70], p99 +40 % [...]: significant"
        assert v["line"].startswith(f"{v['b']} ") and f"x {v['a']} req/s [" in v["line"]
        assert v["verdict"] in ("significant", "within noise")
    md = (tmp_path / "out" / "report.md").read_text()
    assert f"| URL | grpc://{grpc_address} | http://{http_address} | http://{http_address}?encoding=binary |" in md
    assert "client-side latency only" not in md  # REST targets get the server-time split too
    assert "locust-rest-r2.json" in {p.name for p in (tmp_path / "out").iterdir()}


def test_an_unreachable_http_target_stops_before_load(service, tmp_path):
    grpc_address, _, _ = service
    down = f"127.0.0.1:{free_port()}"
    proc = _compare(tmp_path, f"grpc=grpc://{grpc_address}", f"rest=http://{down}")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert f"rest (http://{down}) is not reachable" in line and "--http-port" in line
    assert not list((tmp_path / "out").glob("locust-*"))


def test_an_http_target_without_the_model_or_with_a_bad_encoding_is_refused(service, tmp_path):
    grpc_address, http_address, _ = service
    proc = _compare(tmp_path, f"rest=http://{http_address}", f"grpc=grpc://{grpc_address}", model="nope")
    assert proc.returncode == 2
    assert f"rest (http://{http_address}) does not serve model 'nope': HTTP 404" in proc.stderr
    proc = _compare(tmp_path, f"grpc=grpc://{grpc_address}", f"rest=http://{http_address}?encoding=xml")
    assert proc.returncode == 2
    assert "target rest: encoding='xml'; expected one of json, binary" in proc.stderr
