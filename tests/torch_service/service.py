"""Run `python -m torch_service` as a subprocess on a free port and wait for its READY line."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Service:
    address: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _pump(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


@contextlib.contextmanager
def running_service(store: Path, *args: str, log_path: Path, env: dict | None = None, timeout: float = 90.0):
    """Start the service on a free loopback port; yields a Service; always stops it (SIGTERM, then kill)."""
    cmd = [sys.executable, "-m", "torch_service", "--model-store", str(store), "--host", "127.0.0.1",
           "--port", "0", "--metrics-port", "-1", *args]
    full_env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}
    with open(log_path, "w") as log:
        process = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=log, text=True, env=full_env)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    try:
        address = _wait_ready(lines, timeout, log_path)
        yield Service(address, process, log_path)
    finally:
        stop(process)


def _wait_ready(lines: queue.Queue, timeout: float, log_path: Path) -> str:
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        try:
            line = lines.get(timeout=max(0.01, left)) if left > 0 else None
        except queue.Empty:
            line = None
        if line is None:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"torch_service did not print READY within {timeout}s; its log:\n{tail}")
        if line.startswith("READY "):
            return line.split()[1]


def stop(process: subprocess.Popen, timeout: float = 30.0) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()
