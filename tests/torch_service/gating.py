"""Deterministic batches: a blocker request holds the model's only worker until the test opens a
gate (a file), while the requests to batch queue up behind it."""

from __future__ import annotations

import asyncio
import time

from client import AsyncInferenceClient
from torch_service.archive import build_archive

from . import models


def gated_store(tmp_path, artifacts, *, serialized, config):
    gate = tmp_path / "gate"
    store = tmp_path / "store"
    build_archive(store / "m.mar", model_name="m", version="1", serialized_file=serialized,
                  handler=models.write_text(tmp_path / "gated.py", models.GATED_HANDLER),
                  config={**config, "handler": {"gate": str(gate)}})
    return store, gate


def run_behind_blocker(srv, blocker, queued, gate, timeouts=None):
    """Send `blocker` (holds the only worker until the gate opens), queue `queued` behind it, wait
    until all are in flight, open the gate; returns the queued requests' results."""
    registry = srv.server.metrics.registry
    timeouts = timeouts or [None] * len(queued)

    def in_flight():
        return registry.get_sample_value("tandem_in_flight_requests", {"model": "m", "version": "1"}) or 0

    async def go():
        async with AsyncInferenceClient(srv.address, timeout=30) as c:
            give_up = time.monotonic() + 20
            first = asyncio.ensure_future(c.infer("m", blocker))
            while in_flight() < 1 and not first.done() and time.monotonic() < give_up:
                await asyncio.sleep(0.005)
            calls = [asyncio.ensure_future(c.infer("m", x, timeout=t)) for x, t in zip(queued, timeouts)]
            untimed = [call for call, t in zip(calls, timeouts) if t is None]
            timed = [call for call, t in zip(calls, timeouts) if t is not None]
            # every untimed request is in flight (queued behind the blocker) or already refused
            while in_flight() < 1 + sum(not call.done() for call in untimed) and time.monotonic() < give_up:
                await asyncio.sleep(0.005)
            if timed:
                await asyncio.wait(timed)
            gate.touch()
            await first
            return await asyncio.gather(*calls, return_exceptions=True)

    return asyncio.run(go())
