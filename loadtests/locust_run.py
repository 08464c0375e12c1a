"""One service's turn: Locust in a subprocess, resources sampled, the service watched.

Locust runs headless with `-t`, so it stops by itself; this process also holds a hard deadline
past which Locust is stopped (SIGTERM: it still writes what it measured), then killed. Every
second the service's liveness is checked; when it stops answering (or its process exits), the
load stops at once and the result says what happened, keeping what was measured.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from client.errors import InferenceError
from client.sync import InferenceClient

from .plan import CompareConfig
from .progress import Progress, fmt_seconds
from .resources import summarize as summarize_resources
from .sampler import ResourceSampler
from .targets import Service

REPO_ROOT = Path(__file__).resolve().parent.parent
STARTUP_ALLOWANCE_S = 30.0  # Locust's start and end, beyond -t, before it is stopped
STOP_WAIT_S = 15.0
HEALTH_EVERY_S = 1.0
HEALTH_TIMEOUT_S = 2.0
HEALTH_FAILURES = 3  # consecutive failed liveness checks that mean the service is gone
LOG_TAIL_LINES = 15


@dataclass
class Turn:
    index: int  # 1-based position of this service in the comparison
    count: int
    later_s: float  # estimated seconds of the services after this one


class Watch:
    """Liveness of a service: its process (when known) and ServerLive answers."""

    def __init__(self, service: Service):
        self.service = service
        self.client = InferenceClient(service.address, timeout=HEALTH_TIMEOUT_S, max_attempts=1)
        self.failures = 0
        self.last_error = ""
        self._next = 0.0

    def dead(self) -> str | None:
        """Why the service is considered gone, or None."""
        pid = self.service.pid
        if pid is not None:
            try:
                proc = psutil.Process(pid)
                if proc.status() == psutil.STATUS_ZOMBIE:
                    return f"its process {pid} exited"
            except psutil.NoSuchProcess:
                return f"its process {pid} exited"
        now = time.monotonic()
        if now < self._next:
            return None
        self._next = now + HEALTH_EVERY_S
        try:
            live = self.client.is_server_live()
            self.failures = 0 if live else self.failures + 1
            self.last_error = "" if live else "ServerLive answered live=false"
        except InferenceError as e:
            self.failures += 1
            self.last_error = f"{e.code.name}: {e.message}"
        if self.failures >= HEALTH_FAILURES:
            return f"it stopped answering ({self.failures} liveness checks failed; last: {self.last_error})"
        return None

    def close(self) -> None:
        self.client.close()


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_WAIT_S)


def _phase_detail(config: CompareConfig, elapsed: float, turn: Turn) -> str:
    left_here = max(0.0, config.run_time_s - elapsed)
    if elapsed < config.warmup_s:
        now = f"warm-up, {fmt_seconds(config.warmup_s - elapsed)} left"
    elif elapsed < config.run_time_s:
        now = f"measuring, {fmt_seconds(left_here)} left"
    else:
        now = "finishing"
    return f"{now} | about {fmt_seconds(left_here + turn.later_s)} left in all"


@dataclass
class Ending:
    """Why a run ended before Locust finished by itself (all None: it finished)."""

    died: str | None = None  # the service stopped answering or exited
    died_at: float | None = None  # wall-clock time it was noticed
    stopped: str | None = None  # this side stopped it: ran too long, or Ctrl-C
    interrupted: bool = False


def _drive(proc, config: CompareConfig, watch: Watch, turn: Turn, phase: str, progress: Progress) -> Ending:
    started = time.monotonic()
    hard_deadline = started + config.locust_time_limit_s + STARTUP_ALLOWANCE_S
    try:
        while proc.poll() is None:
            progress.update(phase, _phase_detail(config, time.monotonic() - started, turn))
            died = watch.dead()
            if died:
                return Ending(died=died, died_at=time.time())
            if time.monotonic() > hard_deadline:
                return Ending(stopped=f"Locust ran past its time limit ({config.locust_time_limit_s} s + "
                                      f"{STARTUP_ALLOWANCE_S:g} s) and was stopped")
            try:
                proc.wait(0.25)
            except subprocess.TimeoutExpired:
                pass
    except KeyboardInterrupt:
        return Ending(stopped="interrupted (Ctrl-C); the figures cover the time until then", interrupted=True)
    return Ending()


def run_service(config: CompareConfig, service: Service, turn: Turn, progress: Progress) -> dict:
    """Load one service; its section of the report (status ok / died / failed / interrupted)."""
    out = Path(config.out_dir)
    results_path, log_path = out / f"locust-{service.name}.json", out / f"locust-{service.name}.log"
    results_path.unlink(missing_ok=True)
    phase = (f"[{turn.index}/{turn.count}] {service.name} {service.address}: {config.scenario} "
             f"'{config.model}', {config.users} user{'s' if config.users != 1 else ''}")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    sampler = ResourceSampler(service.pid if _alive(service.pid) else None, interval=config.interval_s,
                              nvml=config.nvml)
    watch = Watch(service)
    launched = time.time()
    with open(log_path, "wb") as log, sampler:
        proc = subprocess.Popen(config.locust_command(service.address, results_path), cwd=REPO_ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            ending = _drive(proc, config, watch, turn, phase, progress)
        finally:
            _stop(proc)
            watch.close()
    progress.done()
    return _result(service, sampler.result(), proc.returncode, results_path, log_path, ending, launched)


def _alive(pid: int | None) -> bool:
    return pid is not None and psutil.pid_exists(pid)


def _result(service: Service, raw: dict, code: int, results_path: Path, log_path: Path, ending: Ending,
            launched: float) -> dict:
    base = {"name": service.name, "address": service.address, "pid": service.pid,
            "pid_source": service.pid_source, "locust_exit_code": code, "log": str(log_path.resolve())}
    try:
        run = json.loads(results_path.read_text())
    except (OSError, ValueError):
        run = None
    status, message = "ok", None
    if run is not None and run.get("fatal"):
        status, message = "failed", run["fatal"]
    if ending.died:
        status = "died"
        into = (ending.died_at - run["measure_start"]) if run else -1.0
        when = f"{into:.1f} s into the measurement" if into >= 0 else "before the measurement began"
        message = f"{service.name} died {when}: {ending.died}"
        message += "; the figures cover the time until then" if run else ""
    elif ending.stopped:
        status, message = ("interrupted" if ending.interrupted else "failed"), ending.stopped
    elif run is None:
        status, message = "failed", f"Locust exited with code {code} without writing results"
    elif run.get("ended_in_warmup"):
        status, message = "failed", "the run ended during the warm-up: nothing was measured"
    if run is None:
        return {**base, "status": status, "message": message, "log_tail": _tail(log_path),
                "resources": summarize_resources(raw, launched, time.time())}
    keep = {k: v for k, v in run.items() if k not in ("schema", "target")}
    out = {**base, "status": status, "message": message, **keep,
           "resources": summarize_resources(raw, run["measure_start"], run["end"])}
    if status != "ok":
        out["log_tail"] = _tail(log_path)
    return out
