"""The resource sampler: a busy process tree's CPU rises; a process that ends is noticed."""

from __future__ import annotations

import subprocess
import sys

import psutil
import pytest

from loadtests.sampling.resources import summarize
from loadtests.sampling.sampler import ResourceSampler
from tests.support.ports import wait_for

# The parent waits for a line on stdin, then its child spins for at most 10 s (bounded in any case).
BUSY_CHILD = "import time\nend = time.monotonic() + 10\nwhile time.monotonic() < end: pass\n"
PARENT = ("import subprocess, sys\nprint('ready', flush=True)\nsys.stdin.readline()\n"
          f"subprocess.run([sys.executable, '-c', {BUSY_CHILD!r}])\n")


@pytest.fixture
def parent():
    proc = subprocess.Popen([sys.executable, "-c", PARENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"  # started up: idle from here until told to go
    yield proc
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    for child in children:
        child.kill()
    proc.kill()
    proc.wait()


def _samples(sampler: ResourceSampler, n: int) -> list[float | None]:
    start = len(sampler.t)
    wait_for(lambda: len(sampler.t) >= start + n, timeout=20, interval=0.01, what=f"{n} samples")
    return sampler.cpu[start:start + n]


def test_cpu_of_a_busy_child_process_is_counted(parent):
    sampler = ResourceSampler(parent.pid, interval=0.1, gpu=False).start()
    try:
        idle = _samples(sampler, 4)
        parent.stdin.write("go\n")
        parent.stdin.flush()
        wait_for(lambda: sampler.process.pids() - {parent.pid}, timeout=20, what="the busy child to be seen")
        busy = _samples(sampler, 8)
    finally:
        sampler.stop()
    # how much CPU the spinning child gets depends on the machine's load: only the order is checked
    assert all(v is not None for v in idle + busy)
    assert sum(busy) / len(busy) > max(idle) and max(busy) > 0
    raw = sampler.result()
    assert raw["process"]["pid"] == parent.pid and raw["cpu_count"] >= 1
    assert all(r > 1 for r in raw["rss_mb"] if r is not None)
    summary = summarize(raw, raw["t"][0], raw["t"][-1])
    assert summary["samples"] == len(raw["t"])
    assert summary["cpu_percent"]["max"] >= summary["cpu_percent"]["mean"] > 0
    assert summary["gpu"] == {"available": False, "reason": "no GPU: GPU sampling was switched off"}


def test_a_process_that_ends_is_noticed(parent):
    sampler = ResourceSampler(parent.pid, interval=0.05, gpu=False).start()
    try:
        _samples(sampler, 2)
        parent.kill()
        parent.wait()
        wait_for(lambda: sampler.process_gone_at is not None, timeout=10, what="the exit to be noticed")
        assert _samples(sampler, 1) == [None]
    finally:
        sampler.stop()
    raw = sampler.result()
    summary = summarize(raw, raw["t"][0], raw["t"][-1])
    assert "the process ended" in summary["note"]


def test_bad_pid_and_interval_are_refused():
    with pytest.raises(ValueError, match="no process with pid"):
        ResourceSampler(2**22 + 12345, gpu=False)
    with pytest.raises(ValueError, match="interval must be positive"):
        ResourceSampler(None, interval=0, gpu=False)


def test_without_a_process_the_summary_says_so():
    sampler = ResourceSampler(None, interval=0.05, gpu=False).start()
    _samples(sampler, 2)
    sampler.stop()
    raw = sampler.result()
    summary = summarize(raw, raw["t"][0], raw["t"][-1])
    assert summary["process"] is None and summary["series"] is None
    assert "no service process was given" in summary["note"]
