"""Start `python -m tf_service` (or the TF Serving stand-in) as a real subprocess for tests: wait for its
READY line with a deadline, keep its log for failure messages, always stop it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUIET_TF = {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0", "CUDA_VISIBLE_DEVICES": ""}


class Process:
    """A child whose stdout is scanned for `READY host:port`; stderr goes to a log file."""

    def __init__(self, argv: list[str], *, env: dict | None = None, ready_timeout: float = 120.0, name: str = "child"):
        self.argv = argv
        self.name = name
        self.env = {**os.environ, **QUIET_TF, "PYTHONPATH": str(ROOT), **(env or {})}
        self.ready_timeout = ready_timeout
        self.proc: subprocess.Popen | None = None
        self.address = ""
        self._log = tempfile.NamedTemporaryFile(prefix=f"{name}-", suffix=".log", delete=False)
        self._ready = threading.Event()
        self.stdout_lines: list[str] = []

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = Path(self._log.name).read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.stdout_lines.append(line.rstrip("\n"))
            if line.startswith("READY ") and not self._ready.is_set():
                self.address = line.split()[1]
                self._ready.set()

    def spawn(self) -> Process:
        """Start the child without waiting for it to be ready."""
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=subprocess.PIPE,
                                     stderr=self._log, text=True, start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()
        return self

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def start(self) -> Process:
        self.spawn()
        deadline = time.monotonic() + self.ready_timeout
        while not self._ready.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                code = self.proc.poll()
                tail = self.log_tail()
                self.stop()
                state = f"exited with {code}" if code is not None else f"not ready after {self.ready_timeout}s"
                raise RuntimeError(f"{self.name} {state}: {' '.join(self.argv)}\n{tail}")
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL the child (a crash, not a shutdown)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM, then SIGKILL to the whole process group; removes the log file."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the child and anything it started
                self.proc.wait(10)
        try:
            os.unlink(self._log.name)
        except OSError:
            pass
        return self.proc.returncode

    def __enter__(self) -> Process:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def tf_service(*args: str, token: str | None = None, env: dict | None = None, ready_timeout: float = 180.0) -> Process:
    argv = [sys.executable, "-m", "tf_service", "--port", "0", "--metrics-port", "-1", "--log-level", "INFO", *args]
    if token:
        argv += ["--token", token]
    return Process(argv, env=env, ready_timeout=ready_timeout, name="tf_service")
