"""Ctrl-C is never lost: a KeyboardInterrupt that a finalizer swallowed still stops the load."""

from __future__ import annotations

import gc
import signal
import subprocess
import sys
from types import SimpleNamespace

import pytest

from loadtests.run import interrupt
from loadtests.run.locust_run import Turn, _drive
from loadtests.run.progress import Progress


class _SignalsWhenCollected:
    """Stands in for an object (a gRPC channel) whose finalizer runs when SIGINT's handler does."""

    def __del__(self):
        signal.raise_signal(signal.SIGINT)  # the handler runs here; its KeyboardInterrupt is dropped


def _swallowed_interrupt():
    _SignalsWhenCollected()  # collected at once: __del__ raises inside the finalizer
    gc.collect()


def test_an_interrupt_dropped_by_a_finalizer_is_still_recorded(monkeypatch):
    dropped = []
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: dropped.append(unraisable.exc_type))
    with interrupt.recorded():
        _swallowed_interrupt()  # no KeyboardInterrupt reaches here
        assert dropped == [KeyboardInterrupt]  # Python's "Exception ignored in ...": it never propagated
        assert interrupt.requested()
        with pytest.raises(KeyboardInterrupt):
            interrupt.check()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_the_next_recording_starts_clear(monkeypatch):
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: None)
    with interrupt.recorded():
        _swallowed_interrupt()
    with interrupt.recorded():
        assert not interrupt.requested()
        interrupt.check()


class _Running:
    """A Locust process that never ends by itself."""

    pid = 0

    def poll(self):
        return None

    def wait(self, timeout=None):
        raise subprocess.TimeoutExpired("locust", timeout)


def test_the_load_loop_stops_on_an_interrupt_a_finalizer_dropped(monkeypatch):
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: None)
    config = SimpleNamespace(locust_time_limit_s=0, run_time_s=3600, warmup_s=0)  # unfixed: stops late, not interrupted
    watch = SimpleNamespace(dead=lambda: None)
    with interrupt.recorded():
        _swallowed_interrupt()
        ending = _drive(_Running(), config, watch, Turn(1, 1, 0.0), "phase", Progress(enabled=False))
    assert ending.interrupted and "Ctrl-C" in ending.stopped
