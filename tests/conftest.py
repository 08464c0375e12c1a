"""Session-wide rule: no test leaves a process behind.

At session start every child inherits `TANDEM_TEST_SESSION=<id>` in its environment; at session end
any process still alive that descends from pytest or carries that id (grandchildren re-parented to
init included, e.g. a TF Serving stand-in whose service was killed) gets a few seconds to exit, is
then listed, killed, and the run fails. Python's own helper processes (multiprocessing's resource
tracker and forkserver, which exit with the interpreter) are not counted.
"""

from __future__ import annotations

import os
import uuid

import psutil
import pytest

SESSION_ENV = "TANDEM_TEST_SESSION"
EXIT_GRACE_S = 10.0
_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def pytest_sessionstart(session: pytest.Session) -> None:
    os.environ[SESSION_ENV] = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"


def _ours(proc: psutil.Process, marker: str) -> bool:
    try:
        return proc.environ().get(SESSION_ENV) == marker
    except (psutil.Error, OSError):
        return False


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _describe(proc: psutil.Process) -> str:
    try:
        return f"pid {proc.pid}: {' '.join(proc.cmdline())[:300]}"
    except psutil.Error:
        return f"pid {proc.pid}"


def _helper(proc: psutil.Process) -> bool:
    try:
        command = " ".join(proc.cmdline())
    except psutil.Error:
        return True
    return any(h in command for h in _HELPERS)


def left_behind(marker: str | None) -> list[psutil.Process]:
    """Processes of this session still running (not pytest itself, not Python's helpers)."""
    me = psutil.Process()
    found = {p.pid: p for p in me.children(recursive=True)}
    if marker:
        for proc in psutil.process_iter():
            if proc.pid != me.pid and proc.pid not in found and _ours(proc, marker):
                found[proc.pid] = proc
    return [p for p in found.values() if _alive(p) and not _helper(p)]


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    marker = os.environ.get(SESSION_ENV)
    leftovers = left_behind(marker)
    if leftovers:
        _gone, leftovers = psutil.wait_procs(leftovers, timeout=EXIT_GRACE_S)
        leftovers = [p for p in leftovers if _alive(p)]
    if not leftovers:
        return
    lines = [_describe(p) for p in leftovers]
    for proc in leftovers:
        try:
            proc.kill()
        except psutil.Error:
            pass
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = ("tests left processes running (killed now); stop what a test starts:\n  "
               + "\n  ".join(lines))
    if reporter is not None:
        reporter.write_sep("=", "processes left behind", red=True)
        reporter.write_line(message)
    else:  # pragma: no cover - without the terminal plugin
        print(message)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
