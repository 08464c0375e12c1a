"""The main job end to end on the smallest reference model: zoo build, both real services, numeric and
behaviour parity, load on each, one report; and Ctrl-C stops the services it started."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from tests.support.ports import wait_for

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
ARGS = ["-m", "loadtests", "run", "--models", "digits-mlp", "--users", "2", "--duration", "2s", "--warmup", "1s",
        "--rounds", "1", "--sweep-model", ""]


def _pids(text: str) -> list[int]:
    return [int(p) for p in re.findall(r"_service ready at \S+ \(pid (\d+)\)", text)]


def test_main_job_builds_serves_checks_parity_and_reports(tmp_path):
    result = subprocess.run([sys.executable, *ARGS, "--out", str(tmp_path)], cwd=ROOT, env=ENV,
                            capture_output=True, text=True, timeout=600)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-4000:]
    assert "PASS: the two sides agree within tolerance" in out
    assert re.search(r"behaviour parity digits-mlp: (\d+) cases, \1 with the same status on torch and tf, 0 different, "
                     r".*; PASS", out)
    assert re.search(r"digits-mlp\s+throughput\s+torch\s+pass\s+pass \((\d+)/\1\)\s+[\d.]+", out)
    assert re.search(r"digits-mlp\s+throughput\s+tf\s+pass\s+pass", out)
    [run_dir] = [p for p in tmp_path.iterdir() if p.is_dir()]
    report = json.loads((run_dir / "report.json").read_text())
    [model] = report["models"]
    assert model["model"] == "digits-mlp"
    assert {s["name"] for s in model["targets"]} == {"torch", "tf"}
    assert all(s["status"] == "ok" for s in model["targets"])
    assert model["verdicts"] and "one round only" in model["method"]
    html = (run_dir / "report.html").read_text()
    assert "<svg" in html and "digits-mlp" in html
    parity = json.loads((run_dir / "digits-mlp" / "parity.json").read_text())
    assert parity["passed"] is True
    behaviour = model["behaviour"]  # the corpus of bad requests, beside numeric parity
    assert behaviour["verdict"] == "pass" and behaviour["source"] == str(run_dir / "digits-mlp" / "behaviour.json")
    assert behaviour["counts"]["cases"] >= 25 and behaviour["counts"]["different_status"] == 0
    assert "Behaviour parity (bad requests)" in html
    assert "### Behaviour parity: PASS" in (run_dir / "report.md").read_text()
    for pid in _pids(out):
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def _sigint_as_in_a_terminal() -> None:
    """In the child, before exec: SIGINT's default action, as a job started from a terminal has. A test
    run started as a background job of a non-interactive shell (`make test &`) has SIGINT ignored, and
    every child would inherit that: Python then never raises KeyboardInterrupt and Ctrl-C is a no-op."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_the_services(tmp_path):
    proc = subprocess.Popen([sys.executable, *ARGS, "--duration", "60s", "--out", str(tmp_path)], cwd=ROOT,
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=_sigint_as_in_a_terminal)
    lines: list[str] = []
    try:
        def loading():
            line = proc.stdout.readline()
            lines.append(line)
            return "throughput load" in line or (not line and proc.poll() is not None)

        wait_for(loading, timeout=300, interval=0, what="the load phase of the main job")
        pids = _pids("".join(lines))
        assert len(pids) == 2, "".join(lines)[-3000:]
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, ("".join(lines) + rest)[-3000:]
    for pid in pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
