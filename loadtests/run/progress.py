"""One progress line: what runs now and the time left. Rewritten in place on a terminal; on a
pipe or log file, printed when its phase changes and every few seconds."""

from __future__ import annotations

import sys
import time

PIPE_EVERY_S = 5.0


def fmt_seconds(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    return f"{seconds // 60} min {seconds % 60:02d} s"


class Progress:
    def __init__(self, stream=None, enabled: bool = True):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_phase: str | None = None
        self._last_print = 0.0
        self._width = 0

    def update(self, phase: str, detail: str = "") -> None:
        """`phase` names what runs (a change prints at once); `detail` the time left and so on."""
        if not self.enabled:
            return
        line = f"{phase} | {detail}" if detail else phase
        now = time.monotonic()
        if self.tty:
            pad = max(0, self._width - len(line))
            self.stream.write("\r" + line + " " * pad)
            self._width = len(line)
        elif phase != self._last_phase or now - self._last_print >= PIPE_EVERY_S:
            self.stream.write(line + "\n")
            self._last_print = now
        self._last_phase = phase
        self.stream.flush()

    def message(self, text: str) -> None:
        """A line of its own (the progress line continues below it)."""
        if not self.enabled:
            return
        self.done()
        self.stream.write(text + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.enabled and self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0
