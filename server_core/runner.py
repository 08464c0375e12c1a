"""Run an InferenceServer on a background thread with its own event loop (tests, benchmarks)."""

from __future__ import annotations

import asyncio
import threading

from .backend import Backend
from .server import InferenceServer
from .settings import ServerSettings


class BackgroundServer:
    """`with BackgroundServer(backend, settings) as srv: ... srv.address ...`; stopped on exit."""

    def __init__(self, backend: Backend, settings: ServerSettings | None = None, metrics=None):
        self.server = InferenceServer(backend, settings or ServerSettings(), metrics)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="tandem-server", daemon=True)

    @property
    def address(self) -> str:
        return f"{self.server.settings.host}:{self.server.port}"

    def call(self, coro, timeout: float = 60.0):
        """Run a coroutine on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> BackgroundServer:
        self._thread.start()
        self.call(self.server.start())
        return self

    def stop(self, grace: float = 1.0) -> None:
        if not self._thread.is_alive():
            return
        try:
            self.call(self.server.stop(grace))
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
