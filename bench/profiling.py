"""`--profile`: the server's own profile under the load of a row, so that a missed target is explained.

py-spy (installed on demand into .venv/bench-tools, sampling the running server from outside, all
threads, non-blocking) records while one more subject measurement runs after the rounds of record
(`Settings.profile`), so the table's numbers are taken without it; the collapsed stacks are written
to reports/bench/<name>.txt (open in speedscope, or feed to flamegraph.pl). Where py-spy cannot be
had, the server runs under cProfile instead (main thread only, written when the server exits:
reports/bench/<name>.prof): it slows the server through every round, so the numbers of such a run
are for reading the profile beside, not for the table of record. `summary(name)` gives the
functions holding most of the samples."""

from __future__ import annotations

import collections
import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from . import envs
from .harness import REPORTS

TOP = 4


class Profiler:
    def __init__(self, out_dir: Path = REPORTS):
        self.out_dir = out_dir
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.py_spy, self.why_not = envs.py_spy()
        self.tool = "py-spy" if self.py_spy else "cProfile"
        self.files: dict[str, Path] = {}

    def wrap(self, cmd: list[str], name: str) -> list[str]:
        """The server's command line, under cProfile when py-spy is not there."""
        if self.py_spy or cmd[:2] != [sys.executable, "-m"]:
            return cmd
        self.files[name] = self.out_dir / f"{name}.prof"
        return [sys.executable, "-m", "cProfile", "-o", str(self.files[name]), *cmd[1:]]

    @contextlib.contextmanager
    def attach(self, pid: int, name: str):
        """py-spy records `pid` (and its subprocesses) until the block ends."""
        if not self.py_spy:
            yield
            return
        out = self.files[name] = self.out_dir / f"{name}.txt"
        with (self.out_dir / f"{name}.py-spy.log").open("w") as log:
            proc = subprocess.Popen([str(self.py_spy), "record", "--pid", str(pid), "--subprocesses", "--nonblocking",
                                     "--rate", "250", "--format", "raw", "--output", str(out)],
                                    stdout=log, stderr=subprocess.STDOUT)
        try:
            yield
        finally:
            proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def summary(self, name: str) -> str:
        """"FILE (TOOL): self: NN% fn, ...; by project function: NN% fn, ..." — where the samples were."""
        path = self.files.get(name)
        if not path or not path.exists() or path.stat().st_size == 0:
            return ""
        top = _top_raw(path) if path.suffix == ".txt" else _top_cprofile(path)
        return f"{path.relative_to(self.out_dir.parent.parent)} ({self.tool}): {top}"


PROJECT = ("server_core/", "torch_service/", "tf_service/", "client/")


def _frame(frame: str) -> str:
    """`fn (path/to/file.py:123)` -> `file.py:fn`."""
    m = re.match(r"(.*) \((.*?):\d+\)$", frame)
    if not m:
        return frame
    return f"{os.path.basename(m.group(2))}:{m.group(1)}"


def _stacks(path: Path):
    """(frames, samples) from py-spy's collapsed stacks ("a;b;c COUNT"), the process pseudo-frame dropped."""
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            yield [f for f in stack.split(";") if not f.startswith("process ")], int(count)


def _owner(frames: list[str]) -> tuple[bool, str]:
    """(True, the innermost project function) of a stack, or (False, where it was instead): the event
    loop's runner when that is the innermost project frame (gRPC's compiled aio code and asyncio,
    outside any project coroutine), epoll (py-spy counts a loop blocked there as busy), a thread."""
    if "selectors.py" in frames[-1]:
        return False, "waiting in epoll (idle event loop)"
    inner = [i for i, f in enumerate(frames) if any(f"({p}" in f for p in PROJECT)]
    if not inner:
        return False, "threads without project code" if any("Thread._bootstrap" in f for f in frames) else "elsewhere"
    if any("asyncio/runners.py" in f for f in frames[inner[-1]:]):
        return False, "the event loop outside project coroutines (gRPC aio, asyncio)"
    return True, _frame(frames[inner[-1]])


def _top_raw(path: Path) -> str:
    """Where the samples were: the innermost function (self time); outside project code; and the
    innermost function of the project's own code (with what it called in libraries)."""
    own: collections.Counter = collections.Counter()
    project: collections.Counter = collections.Counter()
    outside: collections.Counter = collections.Counter()
    for frames, n in _stacks(path):
        if frames:
            own[_frame(frames[-1])] += n
            mine, where = _owner(frames)
            (project if mine else outside)[where] += n
    total = sum(own.values()) or 1
    return (f"self: {_shares(own.most_common(TOP - 1), total)}; outside project code: "
            f"{_shares(outside.most_common(TOP), total)}; project functions: "
            f"{_shares(project.most_common(TOP), total) or 'none'}")


def _shares(counted, total: float) -> str:
    return ", ".join(f"{n / total:.0%} {where}" for where, n in counted)


def _top_cprofile(path: Path) -> str:
    import pstats

    stats = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]  # {(file, line, fn): (cc, nc, tottime, ...)}
    total = sum(v[2] for v in stats.values()) or 1.0
    ranked = sorted(stats.items(), key=lambda kv: kv[1][2], reverse=True)[:TOP]
    return "self: " + ", ".join(f"{v[2] / total:.0%} {os.path.basename(k[0])}:{k[2]}" for k, v in ranked)
