"""Ctrl-C that is never lost.

Python raises KeyboardInterrupt wherever the main thread happens to be when SIGINT arrives; raised
inside a finalizer (a `__del__`, such as a gRPC channel being collected) it is printed as "Exception
ignored" and dropped, and a long job would run on. `recorded()` installs a SIGINT handler that
notes the interrupt before raising; the job's loops ask `requested()` between steps, so an interrupt
that was dropped still stops them at the next step.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_requested = threading.Event()


def _on_sigint(signum, frame) -> None:
    _requested.set()
    raise KeyboardInterrupt


@contextmanager
def recorded() -> Iterator[None]:
    """For the duration: SIGINT is noted (see `requested`) and raises KeyboardInterrupt as usual.
    Only the main thread may install it; elsewhere this only clears the note."""
    _requested.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def requested() -> bool:
    """Whether SIGINT arrived inside `recorded()`, raised or dropped."""
    return _requested.is_set()


def check() -> None:
    """Raise KeyboardInterrupt if one was requested (and perhaps dropped)."""
    if _requested.is_set():
        raise KeyboardInterrupt
