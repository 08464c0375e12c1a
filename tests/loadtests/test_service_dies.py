"""A target stopped in the middle of its run: its run ends, the report says what happened (failed or
died, with its error count) and keeps what was measured; it is not loaded again, and the other
targets still finish every round."""

from __future__ import annotations

import json
import subprocess

from tests.support.ports import wait_for

from .conftest import PYTHON, ROOT, echo_server, env


def _served(server) -> int:
    stats = server.call(server.server.backend.statistics("add_sub", ""))
    return sum(s.inference_count for s in stats)


def test_a_server_stopped_mid_run_is_recorded(tmp_path):
    out = tmp_path / "out"
    with echo_server() as torch, echo_server() as tf:
        cmd = [PYTHON, "-m", "loadtests", "compare", "--torch", torch.address, "--tf", tf.address,
               "--model", "add_sub", "--users", "2", "--duration", "20s", "--warmup", "0s", "--rounds", "2",
               "--out", str(out)]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_for(lambda: _served(torch) > 200, timeout=30, what="load on the torch-side server")
            torch.stop(grace=0)
            stdout, stderr = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert _served(tf) > 0  # the other target still ran its rounds
    assert proc.returncode == 1, stdout + stderr
    report = json.loads((out / "report.json").read_text())
    (model,) = report["models"]
    torch_result, tf_result = model["targets"]
    assert model["complete"] is False
    assert torch_result["status"] == "died"
    assert torch_result["message"].startswith("round 1: torch died ") and "stopped answering" in torch_result["message"]
    assert [r["status"] for r in torch_result["rounds"]] == ["died", "skipped"]
    assert torch_result["requests"]["ok"] > 100  # what was measured is kept
    assert any(e["kind"] == "UNAVAILABLE" for e in torch_result["errors"])
    assert torch_result["duration_s"] < 20  # its round ended before the measured time was up
    assert tf_result["status"] == "ok" and [r["status"] for r in tf_result["rounds"]] == ["ok", "ok"]
    assert model["verdicts"][0]["verdict"] in ("significant", "within noise", "not measured")
    html = (out / "report.html").read_text()
    assert 'class="alert"><b>torch: died</b>' in html
    assert "torch: died" in (out / "report.md").read_text().replace("**", "")
    assert "torch round 1: torch died" in stderr
