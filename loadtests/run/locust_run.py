"""One target's turn in one round: Locust in a subprocess, resources sampled (the target's process
and Locust's own, the load generator), server statistics read around the measured window, the
target watched.

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

from ..sampling.resources import summarize as summarize_resources
from ..sampling.sampler import ResourceSampler
from ..targets import CallError, Target, kind_of
from . import server_time
from .plan import CompareConfig
from .progress import Progress, fmt_seconds

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCUST_START_S = 1.5  # Locust's own start-up before its warm-up begins, for the statistics snapshot
CLIENT_BOUND_PERCENT = 90.0  # the load generator above this much of one core may be the limit
STARTUP_ALLOWANCE_S = 30.0  # Locust's start and end, beyond -t, before it is stopped
STOP_WAIT_S = 15.0
HEALTH_EVERY_S = 1.0
HEALTH_TIMEOUT_S = 2.0
HEALTH_FAILURES = 3  # consecutive failed liveness checks that mean the service is gone
LOG_TAIL_LINES = 15


@dataclass
class Turn:
    index: int  # 1-based position of this turn in the comparison (all rounds)
    count: int
    later_s: float  # estimated seconds of the turns after this one


class Watch:
    """Liveness of a target: its process (when known) and its kind's liveness check."""

    def __init__(self, target: Target, config: CompareConfig, meta):
        self.service = target
        self.client = kind_of(target).open(target, config.model, config.model_version, meta, HEALTH_TIMEOUT_S)
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
            live = self.client.live(HEALTH_TIMEOUT_S)
            self.failures = 0 if live else self.failures + 1
            self.last_error = "" if live else "its liveness check answered not live"
        except CallError as e:
            self.failures += 1
            self.last_error = f"{e.code}: {e.message}"
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


def _drive(proc, config: CompareConfig, watch: Watch, turn: Turn, phase: str, progress: Progress,
           at_measure=None) -> Ending:
    started = time.monotonic()
    hard_deadline = started + config.locust_time_limit_s + STARTUP_ALLOWANCE_S
    try:
        while proc.poll() is None:
            elapsed = time.monotonic() - started
            if at_measure is not None and elapsed >= config.warmup_s + LOCUST_START_S:
                at_measure()
                at_measure = None
            progress.update(phase, _phase_detail(config, elapsed, turn))
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


def run_target(config: CompareConfig, target: Target, turn: Turn, progress: Progress, *, round_index: int,
               request_set: Path, meta) -> dict:
    """Load one target for one round; the round's figures (status ok / died / failed / interrupted)."""
    out = Path(config.out_dir)
    stem = f"locust-{target.name}-r{round_index + 1}"
    results_path, log_path = out / f"{stem}.json", out / f"{stem}.log"
    results_path.unlink(missing_ok=True)
    phase = (f"[{turn.index}/{turn.count}] round {round_index + 1}/{config.rounds} {target.name} {target.url}: "
             f"{config.scenario} '{config.model}', {config.users} user{'s' if config.users != 1 else ''}")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    sampler = ResourceSampler(target.pid if _alive(target.pid) else None, interval=config.interval_s,
                              nvml=config.nvml)
    watch = Watch(target, config, meta)
    stats: dict = {}

    def at_measure():
        stats["before"] = server_time.snapshot(target, config.model, config.model_version)

    launched = time.time()
    with open(log_path, "wb") as log, sampler:
        proc = subprocess.Popen(config.locust_command(target, results_path, request_set), cwd=REPO_ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        client = ResourceSampler(proc.pid, interval=config.interval_s, gpu=False).start()
        try:
            ending = _drive(proc, config, watch, turn, phase, progress, at_measure)
        finally:
            client.stop()
            _stop(proc)
            watch.close()
    stats["after"] = server_time.snapshot(target, config.model, config.model_version)
    progress.done()
    result = _result(target, sampler.result(), proc.returncode, results_path, log_path, ending, launched)
    result["round"] = round_index + 1
    result["server_time"] = server_time.split(stats.get("before"), stats["after"])
    result["client"] = _client(client.result(), result)
    return result


def _client(raw: dict, result: dict) -> dict:
    """The load generator's own CPU over the measured window, and whether it may have been the limit."""
    start, end = result.get("measure_start"), result.get("end")
    if start is None or end is None:
        return {"cpu_percent": None, "bound": False}
    cpu = summarize_resources(raw, start, end)["cpu_percent"]
    return {"cpu_percent": cpu, "bound": bool(cpu["mean"] is not None and cpu["mean"] > CLIENT_BOUND_PERCENT)}


def _alive(pid: int | None) -> bool:
    return pid is not None and psutil.pid_exists(pid)


def _result(service: Target, raw: dict, code: int, results_path: Path, log_path: Path, ending: Ending,
            launched: float) -> dict:
    base = {"name": service.name, "url": service.url, "kind": service.kind, "address": service.address,
            "pid": service.pid,
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
