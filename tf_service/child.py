"""A child process on the event loop: its output goes to our log (the last lines kept for error
messages), SIGTERM then SIGKILL on stop."""

from __future__ import annotations

import asyncio
import collections
import logging
import signal

log = logging.getLogger("tandem.tf.child")


class ChildProcess:
    def __init__(self, name: str, tail_lines: int = 30):
        self.name = name
        self.proc: asyncio.subprocess.Process | None = None
        self.tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
        self._reader: asyncio.Task | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.tail.clear()
        self.proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL,
                                                         stdout=asyncio.subprocess.PIPE,
                                                         stderr=asyncio.subprocess.STDOUT, env=env)
        log.info("started %s (pid %d): %s", self.name, self.proc.pid, " ".join(argv))
        self._reader = asyncio.ensure_future(self._read(self.proc))

    async def _read(self, proc) -> None:
        while True:
            line = await proc.stdout.readline()
            if not line:
                return
            text = line.decode(errors="replace").rstrip()
            self.tail.append(text)
            log.debug("[%s] %s", self.name, text)

    async def wait(self) -> int:
        assert self.proc is not None, "wait() before start()"
        code = await self.proc.wait()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
        return code

    def last_output(self) -> str:
        return "\n".join(self.tail) or "(no output)"

    async def stop(self, timeout: float = 10.0) -> None:
        if not self.running():
            return
        proc = self.proc
        assert proc is not None  # running() implies a started process
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except (asyncio.TimeoutError, TimeoutError):
            log.warning("%s did not stop within %.0fs of SIGTERM; killing it", self.name, timeout)
            proc.kill()
            await proc.wait()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
