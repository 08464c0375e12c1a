"""Echo servers (the real server core, model `add_sub`) for the load-test suite, and helpers that
run Locust and the comparison runner in subprocesses: gevent's monkey-patching, which importing
Locust performs, must not reach the pytest process."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from server_core.repository import RepositoryBackend
from server_core.runner import BackgroundServer
from server_core.settings import ServerSettings
from tests.support.echo import EchoLoader

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
SUBPROCESS_TIMEOUT_S = 90


@contextlib.contextmanager
def echo_server(loader=None):
    server = BackgroundServer(RepositoryBackend(loader or EchoLoader()), ServerSettings(grace_s=0.2))
    server.start()
    try:
        yield server
    finally:
        server.stop(grace=0.2)


@pytest.fixture(scope="module")
def echo_pair():
    """Two running echo servers: (torch-side address, tf-side address)."""
    with echo_server() as a, echo_server() as b:
        yield a.address, b.address


def env() -> dict:
    return dict(os.environ, PYTHONPATH=str(ROOT))


def run_module(*args: str, timeout: float = SUBPROCESS_TIMEOUT_S) -> subprocess.CompletedProcess:
    """`python -m loadtests ARGS` in a subprocess (bounded in time)."""
    return subprocess.run([PYTHON, "-m", "loadtests", *args], cwd=ROOT, env=env(), capture_output=True,
                          text=True, timeout=timeout)


def locust_cmd(scenario: str, host: str, *args: str) -> list[str]:
    return [PYTHON, "-m", "locust", "-f", str(ROOT / "loadtests" / "locustfiles" / f"{scenario}.py"),
            "--host", f"grpc://{host}", *args]


def run_locust(scenario: str, host: str, *args: str, timeout: float = SUBPROCESS_TIMEOUT_S):
    return subprocess.run(locust_cmd(scenario, host, "--headless", "--only-summary", *args), cwd=ROOT,
                          env=env(), capture_output=True, text=True, timeout=timeout)
