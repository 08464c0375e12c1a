"""The managed backend for real: `python -m tf_service --backend managed` starting the stand-in binary.
It boots around a model TF Serving cannot load, writes config files TF Serving's protos parse,
restarts a killed child (UNAVAILABLE meanwhile) and recovers, and stops the child on shutdown."""

from __future__ import annotations

import shutil
import signal
import sys

import numpy as np
import psutil
import pytest

from client import InferenceClient, errors
from tests.support.ports import wait_for

from . import fake_tfserving, models
from .fake_batching import parse_batching_file
from .process import tf_service


def stand_in_child(service_pid: int) -> psutil.Process:
    children = [p for p in psutil.Process(service_pid).children() if "fake_cli" in " ".join(p.cmdline())]
    assert len(children) == 1, children
    return children[0]


def test_boot_fallback_config_files_restart_and_shutdown(tmp_path):
    store = models.copy_store(tmp_path / "models", ["add_sub", "identity_fp32", "broken"])
    models.build_unloadable(store)
    work = tmp_path / "work"
    service = tf_service("--model-base-path", str(store), "--backend", "managed", "--poll-interval", "0.5",
                         "--tfserving-binary", str(fake_tfserving.BINARY), "--work-dir", str(work),
                         env={"FAKE_TFS_PYTHON": sys.executable})
    with service as svc, InferenceClient(svc.address, max_attempts=1) as c:
        # TF Serving died loading 'unloadable' at start-up; it came back without it, with the rest.
        assert c.is_server_ready()
        assert c.is_model_ready("add_sub") and c.is_model_ready("identity_fp32")
        reasons = {e.name: e.reason for e in c.repository_index() if e.state == "UNAVAILABLE"}
        assert "not a valid SavedModel" in reasons["broken"]  # never handed to TF Serving
        assert "unloadable" in reasons and "KeyError" in reasons["unloadable"]  # TF Serving's own error
        assert not [r for r in reasons.values() if str(tmp_path) in r]  # no server paths, not even TF Serving's

        config = fake_tfserving.read_model_config(work / "models.config")
        assert sorted(m.name for m in config.model_config_list.config) == ["add_sub", "identity_fp32"]
        assert all(m.base_path.startswith(str(work / "models")) for m in config.model_config_list.config)
        params = parse_batching_file(work / "models" / "add_sub" / "2" / "batching_params.pbtxt")
        assert (params.max_batch_size.value, params.batch_timeout_micros.value) == (8, 5000)

        child = stand_in_child(svc.pid)
        child.kill()
        wait_for(lambda: not c.is_server_ready(), 15, what="readiness to drop after the kill")
        with pytest.raises(errors.UnavailableError, match="TF Serving at 127.0.0.1:"):
            c.infer("identity_fp32", {"INPUT0": np.ones((1, 2), np.float32)})
        wait_for(c.is_server_ready, 90, what="the restarted TF Serving")
        wait_for(lambda: c.is_model_ready("add_sub"), 30, what="add_sub after the restart")
        out = c.infer("identity_fp32", {"INPUT0": np.ones((1, 2), np.float32)})["OUTPUT0"]
        np.testing.assert_array_equal(out, np.ones((1, 2), np.float32))
        restarted = stand_in_child(svc.pid)
        assert restarted.pid != child.pid

        shutil.copytree(store / "add_sub" / "2", store / "add_sub" / "3")  # TF Serving polls the mirror
        wait_for(lambda: c.model_metadata("add_sub").versions == ("1", "2", "3"), 30, what="version 3")
        x = np.ones((1, 16), np.float32)
        np.testing.assert_allclose(c.infer("add_sub", {"INPUT0": x, "INPUT1": x}, version="3")["OUTPUT0"], x + x + 1)
    assert svc.proc.returncode == 0
    assert not restarted.is_running() or restarted.status() == psutil.STATUS_ZOMBIE


def test_a_signal_during_start_up_stops_the_child(tmp_path):
    store = models.copy_store(tmp_path / "models", ["identity_fp32"])
    service = tf_service("--model-base-path", str(store), "--backend", "managed", "--log-level", "DEBUG",
                         "--tfserving-binary", str(fake_tfserving.BINARY),
                         env={"FAKE_TFS_PYTHON": sys.executable, "FAKE_TFS_LOAD_DELAY_S": "60"}).spawn()
    try:
        wait_for(lambda: "Loading servable" in service.log_tail(), 60, what="TF Serving to start loading")
        child = stand_in_child(service.pid)
        service.proc.send_signal(signal.SIGTERM)
        assert service.proc.wait(30) == 1
        assert "stopped during start-up" in service.log_tail()
        wait_for(lambda: not child.is_running() or child.status() == psutil.STATUS_ZOMBIE, 15, what="the child to stop")
    finally:
        service.stop()
