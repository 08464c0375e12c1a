"""The real command line: `python -m torch_service` configured by flags and environment variables,
metrics scraped over HTTP, clean exit on SIGTERM; bad invocations refused before serving."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request

import numpy as np

from client import InferenceClient
from tests.support.ports import free_port
from torch_service.archive import build_archive

from .conftest import mlp_config
from .service import REPO_ROOT, running_service


def run_cli(*args, env=None, timeout=60):
    return subprocess.run([sys.executable, "-m", "torch_service", *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})})


def test_help_documents_every_flag_and_the_environment():
    result = run_cli("--help")
    assert result.returncode == 0
    for flag in ("--model-store", "--models", "--work-dir", "--torch-threads", "--default-device", "--host",
                 "--port", "--metrics-port", "--tls-cert", "--tls-key", "--token", "--no-management",
                 "--max-archive-bytes", "TORCH_SERVICE_PORT", "archive"):
        assert flag in result.stdout, flag
    archive = run_cli("archive", "--help")
    assert archive.returncode == 0 and "--serialized-file" in archive.stdout and "no-archive" in archive.stdout


def test_bad_invocations_are_refused_with_a_reason(tmp_path):
    missing = run_cli("--model-store", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "is not a directory" in missing.stderr
    (tmp_path / "a.mar").write_bytes(b"")
    unknown = run_cli("--model-store", str(tmp_path), "--models", "a,zzz")
    assert unknown.returncode == 2 and "zzz not in the model store" in unknown.stderr and "holds: a" in unknown.stderr
    tls = run_cli("--model-store", str(tmp_path), "--tls-cert", "c.pem")
    assert tls.returncode == 2 and "--tls-cert and --tls-key go together" in tls.stderr


def test_serves_from_environment_settings_exposes_metrics_and_stops_on_sigterm(tmp_path, artifacts):
    store = tmp_path / "store"
    build_archive(store / "mlp.mar", model_name="mlp", version="1", serialized_file=artifacts.mlp_export,
                  config=mlp_config(batchSize=4, maxBatchDelay=2))
    build_archive(store / "later.mar", model_name="later", version="1", serialized_file=artifacts.mlp_script,
                  config=mlp_config())
    metrics_port, work = free_port(), tmp_path / "work"
    env = {"TORCH_SERVICE_MODELS": "mlp", "TORCH_SERVICE_TOKEN": "tok", "TORCH_SERVICE_WORK_DIR": str(work),
           "TORCH_SERVICE_TORCH_THREADS": "1"}
    with running_service(store, "--metrics-port", str(metrics_port), env=env, log_path=tmp_path / "log") as svc:
        with InferenceClient(svc.address, token="tok") as c:
            assert c.server_metadata()["name"] == "tandem"
            assert {(e.name, e.state) for e in c.repository_index()} == {("mlp", "READY"), ("later", "UNAVAILABLE")}
            x = np.ones((2, 8), np.float32)
            for _ in range(3):
                assert c.infer("mlp", {"x": x})["y"].shape == (2, 3)
            c.load_model("later")  # not loaded at start (--models), loadable from the store
            assert c.is_model_ready("later")

        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as r:
            text = r.read().decode()  # counters are updated before the answer is sent
        assert 'tandem_requests_total{model="mlp",status="OK",version="1"} 3.0' in text
        for name in ("tandem_queue_latency_seconds_bucket", "tandem_inference_latency_seconds_bucket",
                     "tandem_batch_size_bucket", "tandem_in_flight_requests", "tandem_request_latency_seconds_count"):
            assert f'{name}{{' in text and 'model="mlp"' in text, name
        assert any(work.glob("mlp/*/mlp.pt2"))
        svc.proc.send_signal(signal.SIGTERM)
        assert svc.proc.wait(30) == 0
    assert "signal received" in svc.log_text()
    assert not any(work.rglob("*.pt2")), "extraction folders survive the shutdown"


def test_a_port_in_use_fails_before_loading_with_one_line(tmp_path, artifacts):
    store = tmp_path / "store"
    build_archive(store / "mlp.mar", model_name="mlp", version="1", serialized_file=artifacts.mlp_export,
                  config=mlp_config())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli("--model-store", str(store), "--port", "0", "--metrics-port", str(port), timeout=120)
    assert done.returncode == 2, done.stderr
    assert f"torch_service: error: metrics port {port} on 127.0.0.1 is already in use" in done.stderr
    assert "--metrics-port" in done.stderr and "Traceback" not in done.stderr and "Event loop" not in done.stderr
    assert "model mlp ready" not in done.stderr and done.stdout == ""


def test_an_empty_store_warns_and_strict_refuses(tmp_path):
    store = tmp_path / "empty"
    store.mkdir()
    with running_service(store, log_path=tmp_path / "log") as svc:
        with InferenceClient(svc.address) as c:
            assert c.is_server_ready() and c.repository_index() == []
        assert "the model store holds no models: expected NAME.mar" in svc.log_text()
        assert "WARNING" in svc.log_text()
    strict = run_cli("--model-store", str(store), "--port", "0", "--metrics-port", "-1", "--strict")
    assert strict.returncode == 2 and "holds no models" in strict.stderr and "(--strict)" in strict.stderr
    assert "Traceback" not in strict.stderr


def test_the_zoo_root_is_not_served_as_a_model_named_torch(tmp_path, artifacts):
    root = tmp_path / "zoo"  # `python -m zoo build` output: torch/<model>.mar, tf/<model>/1/saved_model.pb
    for name in ("alpha", "beta"):
        build_archive(root / "torch" / f"{name}.mar", model_name=name, version="1",
                      serialized_file=artifacts.mlp_export, config=mlp_config())
    (root / "tf" / "alpha" / "1").mkdir(parents=True)
    (root / "tf" / "alpha" / "1" / "saved_model.pb").write_bytes(b"")
    with running_service(root, log_path=tmp_path / "log") as svc, InferenceClient(svc.address) as c:
        index = {e.name: (e.state, e.reason) for e in c.repository_index()}
        assert index["torch"][0] == "UNAVAILABLE"
        assert "torch/ is a model store itself (it holds the models alpha, beta)" in index["torch"][1]
        assert "point --model-store at it" in index["torch"][1] and str(tmp_path) not in index["torch"][1]
        assert not c.is_model_ready("torch")
        log = svc.log_text()
    assert "'torch/' is a model store itself" in log and "TF Serving's layout (tf:" not in log
    strict = run_cli("--model-store", str(root), "--port", "0", "--metrics-port", "-1", "--strict")
    assert strict.returncode == 2 and "is a model store itself" in strict.stderr
