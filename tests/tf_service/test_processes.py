"""`--processes N` on tf_service's embedded backend (server_core.workers): two workers on one port,
one ModelStatistics view, a worker that dies is restarted, and no process outlives the service."""

from __future__ import annotations

import signal

import numpy as np
import psutil

from client import InferenceClient
from tests.support.ports import wait_for
from tests.support.workers import published, spread, stats_folder, total_inferences, workers

from .process import tf_service

X = {"INPUT0": np.ones((1, 16), np.float32), "INPUT1": np.ones((1, 16), np.float32)}


def _infer(c: InferenceClient) -> None:
    np.testing.assert_allclose(c.infer("add_sub", X, version="1")["OUTPUT1"], np.zeros((1, 16)))


def test_two_embedded_workers_one_statistics_view_and_a_restart(small_store):
    service = tf_service("--model-base-path", str(small_store), "--backend", "embedded", "--models", "add_sub",
                         "--processes", "2", "--poll-interval", "0")
    with service as svc:
        folder = stats_folder(svc.pid, 2)
        first = {w.pid for w in workers(svc.pid)}
        sent = spread(svc.address, _infer, folder, "add_sub", first)
        wait_for(lambda: sum(published(folder, "add_sub").values()) == sent, 30, what=f"{sent} published")
        assert total_inferences(svc.address, "add_sub") == sent

        dying = psutil.Process(min(first))
        dying.send_signal(signal.SIGKILL)
        dying.wait(30)  # a connection made while it was dying is reset
        victim = dying.pid
        now = wait_for(lambda: (p := {w.pid for w in workers(svc.pid)}) and len(p) == 2 and victim not in p and p,
                       120, what="the dead worker to be replaced")
        (new,) = now - first
        sent += spread(svc.address, _infer, folder, "add_sub", {new}, timeout=120)
        wait_for(lambda: sum(published(folder, "add_sub").values()) == sent, 30, what=f"{sent} published")
        assert total_inferences(svc.address, "add_sub") == sent
        everyone = first | now
        svc.proc.send_signal(signal.SIGTERM)
        assert svc.proc.wait(60) == 0
    for pid in everyone:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
