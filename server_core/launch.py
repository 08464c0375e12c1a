"""Start a service as a child process and wait until it is ready: THE one helper for tests, benchmarks
and the main job (stdlib only; importing it imports neither grpc nor torch nor tensorflow).

Contract:
- The child is any command that prints `READY host:port` on stdout once it serves
  (`python -m torch_service ...`, `python -m tf_service ...`, the TF Serving stand-in).
- Its stdout and stderr are merged; every line goes to `log_path` when given (kept after the child
  exits) and the last `tail_lines` lines are kept in memory for failure messages (`log_tail()`).
- It runs in its own session (process group): Ctrl-C at a terminal reaches the parent only, and
  `stop()` can reach anything the child started.
- `start()` waits for READY until a deadline; if the child exits or the deadline passes first it is
  stopped and `LaunchError` names the command, what happened and the log's tail.
- `stop()` always stops it: SIGTERM, up to `timeout` seconds for it to exit, then SIGKILL to its whole
  process group; anything it left behind in its group is killed too. Idempotent; returns the exit code.

    with ServiceProcess.python_module("torch_service", "--port", "0", name="torch") as svc:
        call(svc.address)
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

READY_PREFIX = "READY "


class LaunchError(RuntimeError):
    """The child did not become ready; the message says which command, why, and its log's tail."""


class ServiceProcess:
    """A child process whose stdout is scanned for `READY host:port`. A context manager."""

    def __init__(self, argv: Sequence[str], *, name: str | None = None, env: Mapping[str, str] | None = None,
                 cwd: str | Path | None = None, ready_timeout: float = 120.0, log_path: str | Path | None = None,
                 tail_lines: int = 2000):
        self.argv = [str(a) for a in argv]
        self.name = name or Path(self.argv[0]).name
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.cwd = cwd
        self.ready_timeout = ready_timeout
        self.log_path = Path(log_path) if log_path is not None else None
        self.proc: subprocess.Popen[str] | None = None
        self.address = ""
        self._tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._eof = threading.Event()
        self._pump: threading.Thread | None = None

    @classmethod
    def python_module(cls, module: str, *args: str, **kwargs) -> ServiceProcess:
        """`python -m MODULE ARGS...` with this interpreter."""
        kwargs.setdefault("name", module)
        return cls([sys.executable, "-m", module, *args], **kwargs)

    # -- start ---------------------------------------------------------------------------------------

    def spawn(self) -> ServiceProcess:
        """Start the child without waiting for READY (see `wait_ready`)."""
        if self.proc is not None:
            raise RuntimeError(f"{self.name} already started")
        log: IO[str] | None = None
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            log = self.log_path.open("w", encoding="utf-8")
        self.proc = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     errors="replace", start_new_session=True)
        self._pump = threading.Thread(target=self._read, args=(self.proc.stdout, log),
                                      name=f"launch-{self.name}", daemon=True)
        self._pump.start()
        return self

    def _read(self, stream: IO[str], log: IO[str] | None) -> None:
        try:
            for line in stream:
                with self._lock:
                    self._tail.append(line.rstrip("\n"))
                if log is not None:
                    log.write(line)
                    log.flush()
                if line.startswith(READY_PREFIX) and not self._ready.is_set():
                    self.address = line.split()[1]
                    self._ready.set()
        finally:
            if log is not None:
                log.close()
            self._eof.set()

    def wait_ready(self, timeout: float | None = None) -> str:
        """Wait for READY; on exit or timeout stop the child and raise LaunchError. Returns the address."""
        assert self.proc is not None, "spawn() first"
        timeout = self.ready_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while not self._ready.is_set():
            if self._eof.is_set() or self.proc.poll() is not None:
                self._eof.wait(5)  # the last lines of a child that just exited
                if self._ready.is_set():
                    break
                code = self.proc.wait()
                self.stop()
                raise LaunchError(self._failure(f"exited with code {code} before it was ready"))
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                raise LaunchError(self._failure(f"was not ready within {timeout:g}s"))
            self._ready.wait(min(left, 0.1))
        return self.address

    def start(self) -> ServiceProcess:
        self.spawn()
        self.wait_ready()
        return self

    def _failure(self, what: str) -> str:
        where = f" (log: {self.log_path})" if self.log_path else ""
        return f"{self.name} {what}: {' '.join(self.argv)}{where}\n{self.log_tail()}"

    # -- state ---------------------------------------------------------------------------------------

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def log_tail(self, lines: int = 40) -> str:
        """The last `lines` lines the child wrote (stdout and stderr)."""
        with self._lock:
            kept = list(self._tail)
        return "\n".join(kept[-lines:]) if lines > 0 else ""

    def log_text(self) -> str:
        """The whole log when written to `log_path`, else the lines kept in memory."""
        if self.log_path is not None and self._eof.is_set():
            try:
                return self.log_path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                pass
        return self.log_tail(len(self._tail))

    # -- stop ----------------------------------------------------------------------------------------

    def kill(self) -> None:
        """SIGKILL the child and its process group (a crash, not a shutdown)."""
        if self.proc is not None and self.proc.poll() is None:
            _killpg(self.proc.pid)
            self.proc.wait(10)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM; after `timeout` seconds SIGKILL to the process group. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                _killpg(self.proc.pid)
                self.proc.wait(10)
        _killpg(self.proc.pid)  # anything the child left running in its group
        if self._pump is not None:
            self._pump.join(5)
        return self.proc.returncode

    def __enter__(self) -> ServiceProcess:
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _killpg(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def stop_group(proc: subprocess.Popen, grace_s: float = 30.0) -> None:
    """For a child not started by ServiceProcess (TorchServe, KServe) but in its own session: SIGTERM
    its process group, up to `grace_s` seconds for it to exit, then SIGKILL whatever remains."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            pass
    _killpg(proc.pid)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        pass
