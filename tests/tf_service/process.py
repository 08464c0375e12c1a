"""Start `python -m tf_service` (or the TF Serving stand-in) as a real subprocess for tests, through
server_core.launch: READY awaited with a deadline, its log kept for failure messages, always stopped."""

from __future__ import annotations

import sys

from server_core.launch import ServiceProcess
from tests.support.process import ROOT, child

__all__ = ["QUIET_TF", "ROOT", "ServiceProcess", "process", "tf_service"]

QUIET_TF = {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0", "CUDA_VISIBLE_DEVICES": ""}


def process(argv: list[str], *, env: dict | None = None, ready_timeout: float = 120.0,
            name: str = "child") -> ServiceProcess:
    """A command printing READY, with TensorFlow kept quiet and off any GPU (not started)."""
    return child(argv, env={**QUIET_TF, **(env or {})}, ready_timeout=ready_timeout, name=name)


def tf_service(*args: str, token: str | None = None, env: dict | None = None,
               ready_timeout: float = 180.0) -> ServiceProcess:
    argv = [sys.executable, "-m", "tf_service", "--port", "0", "--metrics-port", "-1", "--log-level", "INFO", *args]
    if token:
        argv += ["--token", token]
    return process(argv, env=env, ready_timeout=ready_timeout, name="tf_service")
