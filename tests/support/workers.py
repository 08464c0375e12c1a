"""Helpers for services run with `--processes N` (server_core.workers): their worker processes, the
statistics each one published, and calls spread over them (each new channel is a new connection,
which the kernel hands to one of the workers listening on the shared port)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import psutil

from client import InferenceClient
from server_core.settings import WORKER_ENV, WorkerInfo
from tests.support.ports import wait_for


def workers(parent_pid: int) -> list[psutil.Process]:
    """The parent's live worker processes."""
    out = []
    for p in psutil.Process(parent_pid).children():
        try:
            if p.status() != psutil.STATUS_ZOMBIE and WORKER_ENV in p.environ():
                out.append(p)
        except psutil.Error:
            continue
    return out


def stats_folder(parent_pid: int, count: int) -> Path:
    """The folder the workers publish their statistics to (waits until `count` workers run)."""
    running = wait_for(lambda: (w := workers(parent_pid)) and len(w) == count and w, 60,
                       what=f"{count} workers")
    return WorkerInfo.decode(running[0].environ()[WORKER_ENV]).stats_dir


def published(folder: Path, model: str) -> dict[int, int]:
    """pid -> inference count of `model` as each worker last published it."""
    counts = {}
    for path in folder.glob("*.json"):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        counts[doc["pid"]] = sum(m["inference_count"] for m in doc["models"] if m["name"] == model)
    return counts


def spread(address: str, call: Callable[[InferenceClient], None], folder: Path, model: str, pids: set[int],
           client_kwargs: dict | None = None, timeout: float = 60.0) -> int:
    """Call `call` three times on one new connection after another until every worker in `pids` has
    answered some (as published); returns how many calls were made."""
    made = 0

    def every_worker_served() -> bool:
        nonlocal made
        with InferenceClient(address, **(client_kwargs or {})) as c:
            for _ in range(3):
                call(c)
                made += 1
        counts = published(folder, model)
        return all(counts.get(pid, 0) > 0 for pid in pids)

    wait_for(every_worker_served, timeout, interval=0.1, what="every worker to answer a request")
    return made


def total_inferences(address: str, model: str, client_kwargs: dict | None = None) -> int:
    with InferenceClient(address, **(client_kwargs or {})) as c:
        return sum(s.inference_count for s in c.statistics(model).model_stats)
