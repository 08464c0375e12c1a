"""Throughput against the number of server processes (issue 14, item 3): the MLP through torch_service
with `--processes N` at 16 x N concurrent requests, N = 1, 2, 4, ... up to half the cores (the other
half drives the load), each against N = 1 in the same run.

Measured only where there are cores to spread over (at least MIN_CORES) and where the service has
the flag; otherwise the row says which of the two is missing instead of a number."""

from __future__ import annotations

import functools
import os
import subprocess
import sys

from . import harness
from .harness import Row, Settings
from .loadgen import OipLoad
from .torch_bench import MLP, add_mlp, save_mlp, service

SUITE = "scale"
MIN_CORES = 4


def _has_processes_flag() -> bool:
    out = subprocess.run([sys.executable, "-m", "torch_service", "--help"], capture_output=True, text=True,
                         cwd=harness.REPO_ROOT, timeout=120).stdout
    return "--processes" in out


def run(settings: Settings) -> list[Row]:
    cores = os.cpu_count() or 1
    row = Row(SUITE, "MLP 64-256-256-10, 16 concurrent per process", "torch_service --processes N",
              "--processes 1", "req/s", "shown")
    if cores < MIN_CORES:
        row.skipped = f"{cores} cores: not measured (needs {MIN_CORES}+: server processes and load generator)"
        return [row]
    if not _has_processes_flag():
        row.skipped = "torch_service has no --processes flag yet"
        return [row]
    work = settings.workdir / "scale"
    store = work / "store"
    add_mlp(store, "mlp", save_mlp(work / "src"), 16, 2)
    load, secs, rows = OipLoad(settings.workdir), settings.mlp_s, []
    counts = [n for n in (2, 4, 8, 16, 32, 64) if n <= cores // 2]
    with service(settings, store, "mlp", "scale-1", "--torch-threads", "1", "--processes", "1") as one:
        load.warm(one, MLP, 16)
        for n in counts:
            with service(settings, store, "mlp", f"scale-{n}", "--torch-threads", "1", "--processes", str(n)) as many:
                load.warm(many, MLP, 16 * n)
                s, b = harness.compare(settings, many, f"scale-{n}",
                                       functools.partial(load.run, many, MLP, 16 * n, secs),
                                       functools.partial(load.run, one, MLP, 16, secs))
            rows.append(Row(SUITE, f"MLP 64-256-256-10, {16 * n} concurrent", f"torch_service --processes {n}",
                            "--processes 1 at 16 concurrent", "req/s", "shown", s.rps, b.rps, load.name, s, b,
                            profile=f"scale-{n}", processes=n))
    return rows
