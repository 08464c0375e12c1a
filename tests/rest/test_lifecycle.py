"""REST follows the server's life cycle: its port is bound before models load (a port in use is a
StartupError naming --http-port), the token applies, and draining refuses new REST calls with 503."""

from __future__ import annotations

import asyncio
import socket

import pytest

from server_core.repository import RepositoryBackend
from server_core.runner import BackgroundServer
from server_core.server import InferenceServer, StartupError
from server_core.settings import ServerSettings
from tests.support.echo import EchoLoader

from .http import error_of, send


class _NeverStarts(RepositoryBackend):
    async def start(self):
        raise AssertionError("models loaded although a port was in use")


def test_an_http_port_in_use_fails_before_models_load():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        server = InferenceServer(_NeverStarts(EchoLoader()), ServerSettings(http_port=port))
        with pytest.raises(StartupError, match=f"HTTP port {port} .* already in use.*--http-port"):
            asyncio.run(server.start())


def test_token_and_draining_apply_to_rest():
    with BackgroundServer(RepositoryBackend(EchoLoader()), ServerSettings(http_port=0, token="t0k")) as srv:
        base = f"http://127.0.0.1:{srv.server.http_port}"
        answer = send(f"{base}/v2/health/live")
        assert answer[0] == 401 and "bearer token" in error_of(answer)
        assert send(f"{base}/v2/health/live", headers={"Authorization": "Bearer wrong"})[0] == 401
        assert send(f"{base}/v2/health/live", headers={"Authorization": "bearer t0k"})[0] == 200
        srv.server._interceptor.start_draining()
        answer = send(f"{base}/v2/models/add_sub", headers={"Authorization": "Bearer t0k"})
        assert answer[0] == 503 and "shutting down" in error_of(answer)
