"""The conformance suite runs once per registered target and transport (gRPC, REST); each service
registers its own target (targets.FACTORIES). A target's server is started once for both transports
(the (target, transport) parameters are ordered so that one target's runs are adjacent) and stopped
before the next target's starts."""

from __future__ import annotations

import contextlib

import pytest

from . import targets
from .target import GRPC, REST

TRANSPORTS = (GRPC, REST)


class _OneAtATime:
    """Keeps the most recently requested target's server running; starting another stops it."""

    def __init__(self):
        self.name: str | None = None
        self.target = None
        self._stack = contextlib.ExitStack()

    def get(self, name: str):
        if name != self.name:
            self.close()
            factory = targets.load(targets.FACTORIES[name])
            self.target = self._stack.enter_context(factory())
            self.name = name
        return self.target

    def close(self):
        self._stack.close()
        self._stack = contextlib.ExitStack()
        self.name = self.target = None


@pytest.fixture(scope="session")
def _servers():
    servers = _OneAtATime()
    yield servers
    servers.close()


@pytest.fixture(scope="session", params=[(name, transport) for name in sorted(targets.FACTORIES)
                                         for transport in TRANSPORTS], ids="-".join)
def target(request, _servers):
    name, transport = request.param
    t = _servers.get(name)
    if transport == REST and t.http_address is None:
        pytest.skip(f"target {name} was started without a REST endpoint")
    return t.over(transport)
