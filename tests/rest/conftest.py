"""A server on the echo backend (tests/support/echo.py) with REST on a free port, for the REST tests."""

from __future__ import annotations

import pytest

from server_core.metrics import Metrics
from server_core.repository import RepositoryBackend
from server_core.runner import BackgroundServer
from server_core.settings import ServerSettings
from tests.support.echo import EchoLoader

MAX_BODY = 256 * 1024


@pytest.fixture(scope="module")
def server():
    settings = ServerSettings(http_port=0, max_message_bytes=MAX_BODY, access_log=True)
    with BackgroundServer(RepositoryBackend(EchoLoader(Metrics())), settings) as srv:
        yield srv


@pytest.fixture
def base(server):
    return f"http://127.0.0.1:{server.server.http_port}"
