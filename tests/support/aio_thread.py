"""A grpc.aio server (the benchmark's echo, or a test double) on an event loop in a thread of the test
process, for the benchmark's load generators to drive."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Awaitable, Callable, Iterator

import grpc

from bench.harness import Server


@contextlib.contextmanager
def serving(start: Callable[[], Awaitable[tuple[grpc.aio.Server, str]]], name: str = "echo") -> Iterator[Server]:
    """`start()` (a started server and its address) run on a loop of its own; stopped on exit."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        server, address = asyncio.run_coroutine_threadsafe(start(), loop).result(30)
        try:
            yield Server(address, os.getpid(), name)
        finally:
            asyncio.run_coroutine_threadsafe(server.stop(0), loop).result(30)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
