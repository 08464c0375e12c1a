"""Start-up through a real server process (the echo backend): every port is bound before any model
loads, a port in use is one line naming the port and its flag (exit 2, no traceback), and the log
says where the server listens."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from server_core.metrics import Metrics
from server_core.repository import RepositoryBackend
from server_core.runner import BackgroundServer
from server_core.settings import ServerSettings
from tests.support.echo import EchoLoader
from tests.support.ports import free_port
from tests.support.process import ROOT, python_module


def _occupied() -> socket.socket:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s


def _echo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tests.support.echo", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("flag", ["--port", "--metrics-port"])
def test_a_port_in_use_is_one_line_naming_the_port_and_flag(flag):
    with _occupied() as taken:
        port = taken.getsockname()[1]
        other = "--metrics-port" if flag == "--port" else "--port"
        done = _echo(flag, str(port), other, str(free_port()))
    what = "gRPC" if flag == "--port" else "metrics"
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""  # never READY
    error_lines = [line for line in done.stderr.splitlines() if "error" in line.lower()]
    assert error_lines == [f"echo: error: {what} port {port} on 127.0.0.1 is already in use (another instance?); "
                           f"choose another with {flag}"]
    assert "Traceback" not in done.stderr and "Event loop is closed" not in done.stderr
    assert "ready (versions" not in done.stderr  # refused before any model loaded


def test_start_up_log_names_the_grpc_and_metrics_addresses():
    metrics_port = free_port()
    with python_module("tests.support.echo", "--metrics-port", str(metrics_port)) as echo:
        log = echo.log_text()
        host, port = echo.address.rsplit(":", 1)
    [line] = [line for line in log.splitlines() if "serving " in line]
    assert f"gRPC on 127.0.0.1:{port}" in line and f"metrics http://127.0.0.1:{metrics_port}/metrics" in line


def _bound(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def test_ports_are_bound_before_the_models_load():
    grpc_port, metrics_port = free_port(), free_port()
    seen_at_load: list[tuple[bool, bool]] = []
    loader = EchoLoader()
    listed = loader.names

    def names():  # the repository lists the store first thing when the backend starts
        seen_at_load.append((_bound(grpc_port), _bound(metrics_port)))
        return listed()

    loader.names = names
    metrics = Metrics()
    settings = ServerSettings(port=grpc_port, metrics_port=metrics_port)
    with BackgroundServer(RepositoryBackend(loader), settings, metrics) as srv:
        assert (srv.server.port, srv.server.metrics_port) == (grpc_port, metrics_port)
    assert seen_at_load[0] == (True, True)
