"""The services the main job runs on this machine: each a child process on a loopback port, started
and awaited with `server_core.launch.ServiceProcess` (the project's one start-and-wait-for-READY
helper: log in a file, own process group, SIGTERM then SIGKILL whatever happens, Ctrl-C included),
plus waiting until every model is ready."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from client import InferenceClient, InferenceError
from server_core.launch import LaunchError, ServiceProcess


class ServiceError(RuntimeError):
    """A service did not start or did not become ready; the message says which and why."""


@dataclass
class LocalService:
    name: str  # "torch" or "tf"
    argv: list[str]  # after `python -m`
    log_path: Path
    process: ServiceProcess | None = field(default=None, repr=False)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process and self.process.proc else None

    @property
    def address(self) -> str:
        return self.process.address if self.process else ""

    def start(self) -> None:
        self.process = ServiceProcess.python_module(self.argv[0], *self.argv[1:], name=f"{self.name}_service",
                                                    log_path=self.log_path).spawn()

    def wait_listening(self, deadline: float) -> str:
        assert self.process is not None, "start() first"
        try:
            return self.process.wait_ready(max(0.0, deadline - time.monotonic()))
        except LaunchError as e:
            raise ServiceError(str(e)) from None

    def wait_models(self, models: list[str], deadline: float) -> None:
        """Poll until the server and every model are ready (the models load in the background)."""
        assert self.process is not None and self.process.proc is not None, "start() first"
        missing = list(models)
        with InferenceClient(self.address, timeout=5, max_attempts=1) as c:
            while True:
                if self.process.proc.poll() is not None:
                    raise ServiceError(f"{self.name}_service exited with code {self.process.proc.returncode}; "
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
                time.sleep(0.25)  # polling interval while models load (a poll with a deadline)

    def tail(self, lines: int = 15) -> str:
        return self.process.log_tail(lines) if self.process else ""

    def stop(self, grace_s: float = 15.0) -> int | None:
        return self.process.stop(grace_s) if self.process else None
