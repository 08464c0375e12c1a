"""`--processes N` (server_core.workers): N workers on one port, one ModelStatistics and one /metrics
view, a worker that dies is restarted while the others serve, and no process outlives the service."""

from __future__ import annotations

import signal
import socket
import urllib.request

import numpy as np
import psutil
import pytest

from client import InferenceClient, errors
from tests.support.ports import free_port, wait_for
from tests.support.workers import published, spread, stats_folder, total_inferences, workers
from torch_service.archive import build_archive

from .conftest import mlp_config
from .service import running_service
from .test_cli import run_cli

X = {"x": np.ones((1, 8), np.float32)}


@pytest.fixture
def store(tmp_path, artifacts):
    store = tmp_path / "store"
    build_archive(store / "mlp.mar", model_name="mlp", version="1", serialized_file=artifacts.mlp_script,
                  config=mlp_config(batchSize=4, maxBatchDelay=2))
    return store


def _infer(c: InferenceClient) -> None:
    assert c.infer("mlp", X)["y"].shape == (1, 3)


def _gone(pids) -> bool:
    def dead(pid):
        try:
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True
    return all(dead(pid) for pid in pids)


def test_two_workers_share_the_port_statistics_and_metrics(store, tmp_path):
    metrics_port = free_port()
    with running_service(store, "--processes", "2", "--torch-threads", "1", "--metrics-port", str(metrics_port),
                         "--http-port", "0", log_path=tmp_path / "log") as svc:
        folder = stats_folder(svc.pid, 2)
        pids = {w.pid for w in workers(svc.pid)}
        sent = spread(svc.address, _infer, folder, "mlp", pids)
        assert published(folder, "mlp").keys() >= pids

        # one ModelStatistics for the whole service, whichever worker answers it (once each has
        # published its latest counts: the others' figures are up to half a second old)
        wait_for(lambda: sum(published(folder, "mlp").values()) == sent, 30, what=f"{sent} published")
        for _ in range(6):
            assert total_inferences(svc.address, "mlp") == sent

        # one /metrics for the whole service, served by the parent
        def scraped() -> str:
            return urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
        line = f'tandem_requests_total{{model="mlp",status="OK",version="1"}} {float(sent)}'
        wait_for(lambda: line in scraped(), 30, what=line)
        assert "tandem_process_resident_bytes" in scraped()

        # REST on its shared port too; model management is refused (each process has its own models)
        ready = next(line for line in svc.log_text().splitlines() if line.startswith("READY "))
        rest = ready.split("http=")[1]
        assert urllib.request.urlopen(f"http://{rest}/v2/health/ready", timeout=5).status == 200
        with InferenceClient(svc.address) as c, pytest.raises(errors.PermissionDeniedError, match="--processes 2"):
            c.load_model("mlp")
    assert _gone(pids)


def test_a_worker_that_dies_is_restarted_and_serving_goes_on(store, tmp_path):
    with running_service(store, "--processes", "2", "--torch-threads", "1", log_path=tmp_path / "log") as svc:
        folder = stats_folder(svc.pid, 2)
        first = {w.pid for w in workers(svc.pid)}
        sent = spread(svc.address, _infer, folder, "mlp", first)
        wait_for(lambda: sum(published(folder, "mlp").values()) == sent, 30, what=f"{sent} published")

        victim = psutil.Process(min(first))
        victim.send_signal(signal.SIGKILL)
        victim.wait(30)  # a connection made while it was dying is reset: the client reconnects
        with InferenceClient(svc.address) as c:  # the other worker answers meanwhile
            for _ in range(5):
                _infer(c)
        sent += 5
        victim = victim.pid
        now = wait_for(lambda: (p := {w.pid for w in workers(svc.pid)}) and len(p) == 2 and victim not in p and p,
                       90, what="the dead worker to be replaced")
        (new,) = now - first
        sent += spread(svc.address, _infer, folder, "mlp", {new})  # the new worker serves

        # the dead worker's counts stay in the totals (it had published them before it was killed)
        wait_for(lambda: sum(published(folder, "mlp").values()) == sent, 30, what=f"{sent} published")
        assert total_inferences(svc.address, "mlp") == sent
        assert "exited with code -9" in svc.log_text() and "restarting it" in svc.log_text()
        everyone = first | now
        svc.proc.send_signal(signal.SIGTERM)
        assert svc.proc.wait(60) == 0
    assert _gone(everyone)


def test_workers_die_with_a_parent_that_is_killed(store, tmp_path):
    with running_service(store, "--processes", "2", "--torch-threads", "1", log_path=tmp_path / "log") as svc:
        stats_folder(svc.pid, 2)  # both workers running
        pids = {w.pid for w in workers(svc.pid)}
        svc.proc.send_signal(signal.SIGKILL)
        svc.proc.wait(10)
        wait_for(lambda: _gone(pids), 60, what="the workers to exit after their parent")


def test_processes_are_refused_where_they_cannot_work(store, tmp_path):
    assert run_cli("--model-store", str(store), "--processes", "0").returncode == 2
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        busy = run_cli("--model-store", str(store), "--processes", "2", "--port", str(port), "--metrics-port", "-1")
    assert busy.returncode == 2 and f"gRPC port {port}" in busy.stderr and "already in use" in busy.stderr
