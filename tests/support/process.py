"""Start a server as a subprocess and wait for its `READY host:port` line (with a deadline)."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class ServerProcess:
    """`with ServerProcess([...args]) as p: p.address` — SIGTERM and wait on exit."""

    def __init__(self, args: list[str], timeout: float = 120.0, env: dict | None = None):
        self.args = [sys.executable, *args]
        self.timeout = timeout
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.address = ""
        self.output: list[str] = []

    def start(self) -> ServerProcess:
        self.proc = subprocess.Popen(self.args, cwd=ROOT, env=self.env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        lines: queue.Queue = queue.Queue()

        def pump():
            for line in self.proc.stdout:
                self.output.append(line)
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        while True:
            try:
                line = lines.get(timeout=self.timeout)
            except queue.Empty:
                self.stop()
                raise TimeoutError(f"{self.args} not ready after {self.timeout}s:\n{''.join(self.output)[-3000:]}")
            if line is None:
                raise RuntimeError(f"{self.args} exited with {self.proc.wait()}:\n{''.join(self.output)[-3000:]}")
            if line.startswith("READY "):
                self.address = line.split()[1]
                return self

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
