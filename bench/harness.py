"""What a benchmark row is made of: one measurement (`Load`), the medians of interleaved rounds
(`Summary`, `rounds`), the table line with the issue's target (`Row`), server processes, CPU time.

Every comparison runs side by side in one run, alternating subject and baseline over several rounds;
the median of the rounds is reported (these machines are noisy)."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import queue
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server_core.launch import stop_group

from . import inside

REPO_ROOT = Path(__file__).resolve().parent.parent
REPORTS = REPO_ROOT / "reports" / "bench"


@dataclass
class Settings:
    """What every suite is given: run lengths, where to write, and the profiler (`--profile`)."""

    quick: bool
    workdir: Path
    profiler: Any = None  # a bench.profiling.Profiler under --profile

    @property
    def rounds(self) -> int:
        return 3 if self.quick else 5

    @property
    def mlp_s(self) -> float:
        """Seconds of one MLP measurement."""
        return 1.5 if self.quick else 3.0

    @property
    def cnn_s(self) -> float:
        """Seconds of one ResNet-18 measurement (in-process; Python clients)."""
        return 3.0 if self.quick else 8.0

    @property
    def cnn_requests(self) -> int:
        """Requests in each of perf_analyzer's three windows for one ResNet-18 measurement."""
        return 24 if self.quick else 64

    def wrap(self, cmd: list[str], name: str) -> list[str]:
        """A server's command line, as `--profile` needs it started."""
        return self.profiler.wrap(cmd, name) if self.profiler else cmd

    def profile(self, server: Server, name: str, measure: Callable[[], Load]) -> None:
        """Under `--profile`: `server`'s profile, recorded as `name`, under one more `measure()` after
        the rounds of record (its numbers dropped, so the profiler perturbs no number in the table)."""
        if self.profiler:
            with self.profiler.attach(server.pid, name):
                measure()


@dataclass
class Load:
    """One measurement: requests per second, p50 latency, and the CPU (in cores, averaged over the
    measurement) of the load generator and of the server under it; NaN where not known."""

    rps: float
    p50_ms: float
    items_per_request: int = 1
    client_cores: float = math.nan
    server_cores: float = math.nan

    @property
    def items_per_s(self) -> float:
        return self.rps * self.items_per_request


@dataclass
class Summary:
    """Medians over the rounds of one side of a comparison."""

    rps: float
    p50_ms: float
    items_per_s: float
    client_cores: float
    server_cores: float
    inside: str = ""  # the subject's own statistics over its rounds (bench/inside.py), when read


def _median(values: list[float]) -> float:
    known = [v for v in values if not math.isnan(v)]
    return statistics.median(known) if known else math.nan


def summarise(loads: list[Load]) -> Summary:
    rps, p50_ms, items_per_s, client_cores, server_cores = (
        _median([getattr(load, f) for load in loads])
        for f in ("rps", "p50_ms", "items_per_s", "client_cores", "server_cores"))
    return Summary(rps, p50_ms, items_per_s, client_cores, server_cores)


def rounds(n: int, subject: Callable[[], Load], baseline: Callable[[], Load]) -> tuple[Summary, Summary]:
    """Measure subject then baseline, `n` times interleaved; the medians of each side."""
    subjects, baselines = [], []
    for _ in range(n):
        subjects.append(subject())
        baselines.append(baseline())
    return summarise(subjects), summarise(baselines)


@dataclass
class Row:
    """One line of the table: subject against baseline, with the issue's target.

    `target` is "OP VALUE" on the ratio subject/baseline (">= 0.8", "<= 1.3"), "adds <= VALUE" on the
    difference subject - baseline in `unit` (what a hop adds), or "shown" / "adds shown" (a ratio or a
    difference shown for comparison, no target).
    `generator` names the load generator; `subject_load`/`baseline_load` carry the medians with the
    CPU of server and load generator. `skipped` says why a row has no number; `profile` names the
    server profile taken under this row's load (`--profile`); `processes` is the subject's count."""

    suite: str
    what: str
    subject: str
    baseline: str
    unit: str
    target: str
    subject_value: float = math.nan
    baseline_value: float = math.nan
    generator: str = ""
    subject_load: Summary | None = None
    baseline_load: Summary | None = None
    profile: str = ""
    skipped: str = ""
    processes: int = 1
    per_request: str = ""  # latency rows: what the subject does per request that the baseline does not

    @property
    def additive(self) -> bool:
        return self.target.startswith("adds ")

    @property
    def value(self) -> float:
        if self.additive:
            return self.subject_value - self.baseline_value
        return self.subject_value / self.baseline_value if self.baseline_value else math.nan

    @property
    def threshold(self) -> float:
        """The number in the target ("<= 1.3" -> 1.3); NaN for rows that only show a number."""
        if self.target.endswith("shown"):
            return math.nan
        return float(self.target.removeprefix("adds ").split()[1])

    @property
    def met(self) -> bool | None:
        """None where nothing was measured or the row only shows a number (target "shown")."""
        if self.skipped or math.isnan(self.value) or self.target.endswith("shown"):
            return None
        op = self.target.removeprefix("adds ").split()[0]
        return self.value >= self.threshold if op == ">=" else self.value <= self.threshold

    def limits(self) -> str:
        """What the CPU figures say bounds the subject (for a missed target)."""
        s, b = self.subject_load, self.baseline_load
        if s is None or b is None or math.isnan(s.server_cores):
            return ""
        cores = os.cpu_count() or 1
        client = 0.0 if math.isnan(s.client_cores) else s.client_cores
        facts = (f"{self.subject} {s.server_cores:.2f} cores, baseline {b.server_cores:.2f}, load generator "
                 f"{client:.2f}, of {cores}")
        if self.unit == "ms":
            why = (f"at one request in flight the +{s.p50_ms - b.p50_ms:.2f} ms are {self.subject}'s own path per "
                   f"request ({self.per_request or 'its work beyond the baseline'}), not load; the target "
                   f"leaves {self._room_ms():.2f} ms beyond the baseline")
        elif s.server_cores + client >= 0.85 * cores:
            why = "the machine's cores are full: the server and the load generator share them"
        elif math.isnan(b.client_cores) and s.server_cores < 0.8 * b.server_cores:
            why = (f"{self.subject} keeps fewer cores busy than the forward alone: time goes in waiting "
                   "(batch delay, requests in transit between batches)")
        elif math.isnan(b.client_cores):
            why = (f"{self.subject} keeps as many cores busy as the forward alone for less output: the "
                   "difference goes in work beside the forward (decode, copies into the batch, encode)")
        elif 0.85 <= s.server_cores / self.processes <= 1.25:
            why = "about one core per server process: bound by its Python thread (one at a time under the GIL)"
        else:
            why = "cores left idle: time goes in waiting (batch delay, thread hand-offs)"
        return f"{why} ({facts})" + (f"; {s.inside}" if s.inside else "")

    def _room_ms(self) -> float:
        """How much a latency row's target lets the subject add to the baseline."""
        return self.threshold if self.additive else (self.threshold - 1) * self.baseline_value


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of `pid` and every live descendant (Linux /proc); 0 when gone."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError, IndexError):
            continue
    return total


@dataclass
class Server:
    """A running server: where it listens and its process id (for CPU time and profiles)."""

    address: str
    pid: int
    name: str

    def __str__(self) -> str:
        return self.address


@contextlib.contextmanager
def server_process(cmd: list[str], log: Path, timeout: float = 180.0, env: dict | None = None,
                   name: str = "", ready: Callable[[str], str | None] | None = None):
    """Run `cmd` in its own process group until it prints `READY host:port` (or until `ready(line)`
    returns the address), yield a `Server`, then stop the group with SIGTERM (SIGKILL after 30 s)."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}
    ready = ready or (lambda line: line.split()[1] if line.startswith("READY ") else None)
    with open(log, "w") as err:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=err, text=True, env=env,
                                start_new_session=True)
    lines: queue.Queue = queue.Queue()

    def pump():
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    try:
        deadline = time.monotonic() + timeout
        address = None
        while address is None:
            try:
                line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                raise RuntimeError(f"{' '.join(map(str, cmd[:3]))} did not start: {log.read_text()[-2000:]}")
            address = ready(line)
        yield Server(address, proc.pid, name or Path(str(cmd[0])).name)
    finally:
        stop_group(proc)




def in_process(forward: Callable[[], object], duration_s: float, items_per_call: int) -> Load:
    """Call `forward()` back to back for `duration_s` (after one warm-up call), in this process."""
    forward()
    latencies = []
    cpu0, started = time.process_time(), time.perf_counter()
    while time.perf_counter() - started < duration_s:
        t0 = time.perf_counter()
        forward()
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    return Load(len(latencies) / elapsed, statistics.median(latencies) * 1e3, items_per_call,
                server_cores=(time.process_time() - cpu0) / elapsed)



def compare(settings: Settings, server: Server, name: str, subject: Callable[[], Load],
            baseline: Callable[[], Load], model: str = "") -> tuple[Summary, Summary]:
    """`rounds` (as many as `settings` says), with `model`'s statistics at `server` read over them
    where given (the subject's `inside`); then, under `--profile`, `server`'s profile under one more
    subject measurement (`Settings.profile`)."""
    with inside.watch(server.address, model) if model else contextlib.nullcontext(inside.Inside()) as seen:
        subject_side, baseline_side = rounds(settings.rounds, subject, baseline)
    settings.profile(server, name, subject)
    return dataclasses.replace(subject_side, inside=seen.text), baseline_side
