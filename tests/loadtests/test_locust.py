"""The locustfiles run by plain `locust -f ...` (always in a subprocess: gevent must stay out of
pytest): exact figures, wrong answers counted as failures, one user for latency, the ramp's
steps and knee, and distributed mode with the master collecting the workers' samples."""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest

from tests.support.ports import free_port

from .conftest import ROOT, locust_cmd, run_locust


def _results(path):
    return json.loads(path.read_text())


def test_wrong_answers_under_load_are_failures(echo_pair, tmp_path):
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((8, 16), dtype=np.float32), rng.standard_normal((8, 16), dtype=np.float32)
    inputs = tmp_path / "v1.npz"  # version 1's answers; the latest version (2) adds 1 to OUTPUT0
    np.savez(inputs, INPUT0=a, INPUT1=b, OUTPUT0=a + b, OUTPUT1=a - b)
    out = tmp_path / "run.json"
    proc = run_locust("throughput", echo_pair[0], "-u", "2", "-r", "2", "-t", "5s", "--measure-time", "1.5",
                      "--model", "add_sub", "--inputs", str(inputs), "--batch-size", "2", "--check-rate", "1",
                      "--results-json", str(out))
    assert proc.returncode == 1, proc.stderr  # Locust's exit code when requests failed
    r = _results(out)
    assert r["reference"] == "inputs file"
    assert r["requests"]["failed"] > 0 and r["requests"]["failed"] == r["checks"]["failed"]
    assert r["checks"]["passed"] == 0
    (error,) = r["errors"]
    assert error["kind"] == "WRONG_ANSWER" and error["count"] == r["requests"]["failed"]
    assert "output 'OUTPUT0' differs from the reference" in error["examples"][0]
    assert "WrongAnswer(\"wrong answer: output 'OUTPUT0'" in proc.stdout + proc.stderr  # Locust's own table
    assert r["duration_s"] == pytest.approx(1.5, abs=1e-3)  # the window is the measured time, by design


def test_latency_runs_one_user_and_keeps_exact_latencies(echo_pair, tmp_path):
    out = tmp_path / "run.json"
    proc = run_locust("latency", echo_pair[1], "-u", "5", "-t", "5s", "--measure-time", "1", "--warmup", "0.5",
                      "--model", "add_sub", "--results-json", str(out))
    assert proc.returncode == 0, proc.stderr
    r = _results(out)
    assert r["scenario"] == "latency" and set(r["users"]["count"]) == {1}
    lat = r["latency_ms"]
    assert lat["count"] == r["requests"]["ok"] > 0
    assert any(v != round(v) for v in (lat["p50"], lat["p99"]))  # not Locust's whole milliseconds
    assert "tandem: latency add_sub" in proc.stderr and "p99.9" in proc.stderr


def test_ramp_steps_until_the_most_users(echo_pair, tmp_path):
    out = tmp_path / "run.json"
    proc = run_locust("ramp", echo_pair[0], "-u", "2", "-t", "20s", "--model", "add_sub",
                      "--ramp-step-time", "1", "--ramp-p99-ms", "2000", "--results-json", str(out), timeout=60)
    assert proc.returncode == 0, proc.stderr
    ramp = _results(out)["ramp"]
    assert [s["users"] for s in ramp["steps"]] == [1, 2]
    assert all(s["verdict"] == "within limits" and s["requests"] > 0 for s in ramp["steps"])
    assert ramp["stop_reason"] == "reached the most users allowed (-u 2)"
    assert ramp["knee"] in ramp["steps"]


def test_ramp_stops_at_the_latency_limit(echo_pair, tmp_path):
    out = tmp_path / "run.json"
    proc = run_locust("ramp", echo_pair[1], "-u", "10", "-t", "20s", "--model", "add_sub",
                      "--ramp-step-time", "1", "--ramp-p99-ms", "0.001", "--results-json", str(out), timeout=60)
    assert proc.returncode == 0, proc.stderr
    ramp = _results(out)["ramp"]
    assert len(ramp["steps"]) == 1 and ramp["steps"][0]["verdict"] == "over limits"
    assert ramp["stop_reason"].startswith("step 1 (1 users) is over the limits: p99")
    assert ramp["knee"] is None


def test_distributed_master_collects_the_workers_samples(echo_pair, tmp_path):
    port = free_port()
    out = tmp_path / "run.json"
    plain_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # a plain `locust -f` from a checkout
    worker = subprocess.Popen(locust_cmd("throughput", echo_pair[0], "--worker", "--master-port", str(port)),
                              cwd=ROOT, env=plain_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        master = subprocess.run(
            locust_cmd("throughput", echo_pair[0], "--headless", "--only-summary", "--master",
                       "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port), "--expect-workers", "1",
                       "--expect-workers-max-wait", "30", "-u", "2", "-r", "2", "-t", "10s", "--warmup", "0.5",
                       "--measure-time", "1.5", "--model", "add_sub", "--results-json", str(out)),
            cwd=ROOT, env=plain_env, capture_output=True, text=True, timeout=90)
        worker_out, _ = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert master.returncode == 0, master.stderr
    assert worker.returncode == 0, worker_out
    r = _results(out)
    assert r["requests"]["ok"] > 5 and r["checks"]["sampled"] > 0 and r["checks"]["failed"] == 0
    assert r["inputs"].startswith("generated from ModelMetadata")  # told by the worker
    assert r["duration_s"] == pytest.approx(1.5, abs=1e-3)  # the window is the measured time, by design
    assert r["latency_ms"]["count"] == r["requests"]["ok"]
    # samples flushed at the end: the master asked the worker for what it still held and got the answer
    # before writing the figures (a count of acknowledgements, not a timing)
    assert r["workers"] == {"workers": 1, "flushed": 1}


def test_bad_options_stop_plain_locust_with_a_message(echo_pair):
    proc = run_locust("throughput", echo_pair[0], "-t", "5s", "--model", "add_sub", "--check-rate", "3")
    assert proc.returncode == 2
    assert "--check-rate must be a fraction in [0, 1], got 3.0" in proc.stderr


def test_a_model_that_does_not_exist_stops_the_run(echo_pair, tmp_path):
    proc = run_locust("throughput", echo_pair[0], "-t", "20s", "--model", "nope", "--results-json",
                      str(tmp_path / "r.json"))
    assert proc.returncode == 2
    assert "cannot prepare the load test" in proc.stderr and "model 'nope' is not in the repository" in proc.stderr
