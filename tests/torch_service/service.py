"""Run `python -m torch_service` as a subprocess on a free loopback port (server_core.launch):
READY awaited with a deadline, its log written to `log_path`, always stopped (SIGTERM, then kill)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from server_core.launch import ServiceProcess
from tests.support.process import ROOT, python_module

REPO_ROOT = ROOT


@contextlib.contextmanager
def running_service(store: Path, *args: str, log_path: Path, env: dict | None = None,
                    timeout: float = 90.0) -> Iterator[ServiceProcess]:
    """Start the service; yields the ServiceProcess (`.address`, `.proc`, `.log_text()`); always stops it."""
    service = python_module("torch_service", "--model-store", str(store), "--host", "127.0.0.1", "--port", "0",
                            "--metrics-port", "-1", *args, env=env, ready_timeout=timeout, log_path=log_path,
                            name="torch_service")
    with service:
        yield service
