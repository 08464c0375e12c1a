"""Triton's perf_analyzer as the load generator for every OIP v2 target that answers ModelConfig
(both services, the echo baseline, KServe with the two metadata RPCs the bench adds): C++, several
threads, lighter per request than any Python client.

One measurement = one perf_analyzer run at one concurrency, batch 1, zero-filled inputs, three
time windows of `duration_s / 3` each (any three accepted unless wildly apart:
--stability-percentage 999), its throughput and p50 read from the CSV it writes. The client's CPU
comes from the run's own rusage, the server's from /proc over the same span; both in cores."""

from __future__ import annotations

import csv
import math
import os
import subprocess
import tempfile
import time
from pathlib import Path

from .harness import REPO_ROOT, Load, Server, cpu_seconds

PERF_DIR = REPO_ROOT / ".venv" / "perf_analyzer"
BINARY = PERF_DIR / "bin" / "perf_analyzer"
CUDART = PERF_DIR / "nvidia" / "cuda_runtime" / "lib"
WINDOWS = 3  # perf_analyzer reports the mean of the last three windows once they agree
MAX_WINDOWS = 8  # a window ten times off the others (a stall on a busy machine) gets more tries


def missing() -> str:
    """Why perf_analyzer cannot run here ("" when it can)."""
    if not BINARY.exists():
        return "perf_analyzer is not installed (run `make tools`)"
    return ""


def _env() -> dict:
    return {**os.environ, "LD_LIBRARY_PATH": os.pathsep.join(filter(None, [str(CUDART),
                                                                           os.environ.get("LD_LIBRARY_PATH")]))}


def run(server: Server, model: str, concurrency: int, duration_s: float, version: str = "1",
        items_per_request: int = 1, requests_per_window: int = 0) -> Load:
    """perf_analyzer against `model` (version `version`: it finds the server's statistics by it).
    Windows of `duration_s / 3`, or of `requests_per_window` requests each where given (for slow
    models, whose time windows may close before a request of theirs completes)."""
    window_ms = max(500, int(duration_s * 1000 / WINDOWS))
    if requests_per_window:
        windows = ["--measurement-mode", "count_windows", "--measurement-request-count", str(requests_per_window)]
    else:
        windows = ["-p", str(window_ms)]
    with tempfile.TemporaryDirectory(prefix="perf-") as d:
        report = Path(d) / "perf.csv"
        args = [str(BINARY), "-m", model, "-x", version, "-u", server.address, "-i", "grpc", "-b", "1",
                "--concurrency-range", f"{concurrency}:{concurrency}", *windows,
                "--input-data", "zero", "--stability-percentage", "999", "--max-trials", str(MAX_WINDOWS),
                "-f", str(report)]
        server_cpu0, started = cpu_seconds(server.pid), time.perf_counter()
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env())
        out = proc.stdout.read() if proc.stdout else ""
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - started
        server_cpu = cpu_seconds(server.pid) - server_cpu0
        if proc.returncode != 0 or not report.exists():
            said = " / ".join(line.strip() for line in out.splitlines()[-4:] if line.strip())
            raise RuntimeError(f"perf_analyzer against {server.name} ({model}) failed: {said}")
        with report.open() as f:
            row = next(csv.DictReader(f))
    p50_us = float(row.get("p50 latency") or math.nan)
    return Load(float(row["Inferences/Second"]), p50_us / 1e3, items_per_request,
                (usage.ru_utime + usage.ru_stime) / elapsed, server_cpu / elapsed)

