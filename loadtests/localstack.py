"""The services the main job runs on this machine: each a child process on a loopback port, with its
log in a file, started in order, readiness awaited with a deadline, and stopped with SIGTERM (then
SIGKILL) whatever happens — Ctrl-C included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from client import InferenceClient, InferenceError


class ServiceError(RuntimeError):
    """A service did not start or did not become ready; the message says which and why."""


@dataclass
class LocalService:
    name: str  # "torch" or "tf"
    argv: list[str]  # after `python -m`
    log_path: Path
    process: subprocess.Popen | None = None
    address: str = ""
    _ready_line: threading.Event = field(default_factory=threading.Event)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("w", encoding="utf-8")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen([sys.executable, "-m", *self.argv], stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, env=env,
                                        start_new_session=True)  # Ctrl-C reaches us, not the children

        def pump():
            for line in self.process.stdout:
                log.write(line)
                log.flush()
                if line.startswith("READY ") and not self.address:
                    self.address = line.split()[1]
                    self._ready_line.set()
            log.close()
            self._ready_line.set()

        threading.Thread(target=pump, name=f"log-{self.name}", daemon=True).start()

    def wait_listening(self, deadline: float) -> str:
        self._ready_line.wait(max(0.0, deadline - time.monotonic()))
        if not self.address:
            status = self.process.poll()
            why = f"exited with code {status}" if status is not None else "did not start listening in time"
            raise ServiceError(f"{self.name}_service {why}; see {self.log_path}:\n{self.tail()}")
        return self.address

    def wait_models(self, models: list[str], deadline: float) -> None:
        """Poll until the server and every model are ready (the models load in the background)."""
        missing = list(models)
        with InferenceClient(self.address, timeout=5, max_attempts=1) as c:
            while True:
                if self.process.poll() is not None:
                    raise ServiceError(f"{self.name}_service exited with code {self.process.returncode}; "
                                       f"see {self.log_path}:\n{self.tail()}")
                try:
                    if c.is_server_ready():
                        missing = [m for m in missing if not c.is_model_ready(m)]
                        if not missing:
                            return
                except InferenceError:
                    pass
                if time.monotonic() > deadline:
                    states = ""
                    try:
                        states = "; ".join(f"{e.name}: {e.state} {e.reason}".strip()
                                           for e in c.repository_index() if e.name in missing)
                    except InferenceError:
                        pass
                    raise ServiceError(f"{self.name}_service: models not ready in time: "
                                       f"{', '.join(missing)} ({states or 'no index'}); see {self.log_path}")
                time.sleep(0.25)  # polling interval while models load

    def tail(self, lines: int = 15) -> str:
        try:
            return "".join(self.log_path.read_text(encoding="utf-8").splitlines(True)[-lines:])
        except OSError:
            return ""

    def stop(self, grace_s: float = 15.0) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(grace_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()
