"""One ModelStatistics and one /metrics view for the worker processes of `--processes N`.

Each worker writes its models' statistics (`server_core.stats` snapshots, JSON) to a folder its
parent created, `<pid>.json`, every `PUBLISH_INTERVAL_S` and when it stops; the files of workers that
died stay (their counts stay in the totals; the parent zeroes their in-flight count), a restarted
worker writes a file of its own. A worker answers ModelStatistics with its own live counters plus
the other workers' files (`SharedStatistics`); the parent renders /metrics from all files. Other
workers' figures are therefore up to `PUBLISH_INTERVAL_S` old, and a worker killed outright loses
what it counted since its last write.

    {"pid": 123, "written": 1733400000.0, "models": [<server_core.stats.to_json snapshot>, ...]}
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path

from .backend import Backend, InferRequest, InferResult
from .stats import ModelStatsSnapshot, combine, from_json, to_json

log = logging.getLogger("tandem.workers")
PUBLISH_INTERVAL_S = 0.5


class StatsFolder:
    """The folder of the workers' statistics files."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def write(self, pid: int, snapshots: list[ModelStatsSnapshot]) -> None:
        """Replace `pid`'s file (atomically: readers never see half of it)."""
        doc = {"pid": pid, "written": time.time(), "models": [to_json(s) for s in snapshots]}
        tmp = self.folder / f".{pid}.json.tmp"
        tmp.write_text(json.dumps(doc), encoding="utf-8")
        os.replace(tmp, self.folder / f"{pid}.json")

    def read(self, exclude_pid: int | None = None) -> list[ModelStatsSnapshot]:
        """Every worker's snapshots (one per model version and worker), but `exclude_pid`'s."""
        out: list[ModelStatsSnapshot] = []
        for path in sorted(self.folder.glob("*.json")):
            if exclude_pid is not None and path.name == f"{exclude_pid}.json":
                continue
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
                out += [from_json(m) for m in doc["models"]]
            except (OSError, ValueError, KeyError, TypeError) as e:  # a file being replaced, or damaged
                log.warning("statistics of worker file %s unreadable: %s", path.name, e)
        return out

    def totals(self) -> list[ModelStatsSnapshot]:
        """One snapshot per model version, summed over the workers."""
        return combine(self.read())

    def forget_in_flight(self, pid: int) -> None:
        """A worker died: its requests are no longer in flight (its counts stay)."""
        path = self.folder / f"{pid}.json"
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        for model in doc.get("models", []):
            model["in_flight"] = 0
        tmp = self.folder / f".{pid}.json.tmp"
        tmp.write_text(json.dumps(doc), encoding="utf-8")
        os.replace(tmp, path)


class SharedStatistics(Backend):
    """A worker's backend: `inner` for everything, statistics summed with the other workers', and
    this worker's own statistics published to the folder while it serves."""

    def __init__(self, inner: Backend, folder: Path, interval_s: float = PUBLISH_INTERVAL_S):
        self.inner = inner
        self.folder = StatsFolder(folder)
        self.interval_s = interval_s
        self.server_name = inner.server_name
        self.server_version = inner.server_version
        self.extensions = inner.extensions
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        await self.inner.start()
        await self.publish()
        self._task = asyncio.ensure_future(self._publish_every())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.inner.stop()
        await self.publish()

    async def publish(self) -> None:
        try:
            self.folder.write(os.getpid(), await self.inner.statistics("", ""))
        except OSError as e:  # the folder went away (the parent is stopping): nothing to publish to
            log.debug("statistics not published: %s", e)

    async def _publish_every(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.publish()

    async def statistics(self, name: str, version: str) -> list[ModelStatsSnapshot]:
        own = await self.inner.statistics(name, version)  # NotFound etc. as a single process says it
        wanted = {(s.name, s.version) for s in own}
        others = [s for s in self.folder.read(exclude_pid=os.getpid()) if (s.name, s.version) in wanted]
        return combine([*own, *others])

    # -- everything else is the inner backend's ---------------------------------------------------

    async def live(self) -> bool:
        return await self.inner.live()

    async def ready(self) -> bool:
        return await self.inner.ready()

    async def model_ready(self, name: str, version: str) -> bool:
        return await self.inner.model_ready(name, version)

    async def model_metadata(self, name: str, version: str):
        return await self.inner.model_metadata(name, version)

    async def serving_facts(self, name: str, version: str):
        return await self.inner.serving_facts(name, version)

    async def model_config(self, name: str, version: str):
        return await self.inner.model_config(name, version)

    async def infer(self, request: InferRequest) -> InferResult:
        return await self.inner.infer(request)

    async def repository_index(self, ready_only: bool):
        return await self.inner.repository_index(ready_only)

    async def load_model(self, name: str, parameters: Mapping[str, object]) -> None:
        await self.inner.load_model(name, parameters)

    async def unload_model(self, name: str, parameters: Mapping[str, object]) -> None:
        await self.inner.unload_model(name, parameters)

    def __getattr__(self, name: str):  # what a service's own code reads off its backend (e.g. work_dir)
        return getattr(self.inner, name)
