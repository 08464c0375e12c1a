"""`--processes N`: N server processes on one gRPC (and REST) port, for CPU serving on every core.

The parent (`supervise`) loads no framework and serves no RPC. It
1. checks the ports are free and holds them: the gRPC port (a free one for `--port 0`) and the REST
   port with SO_REUSEPORT, bound but not listening, so nothing else takes them while workers come and go;
   it binds the /metrics port itself;
2. starts N workers, `python -m SERVICE <its own arguments> --processes 1 --port P ...` with
   `TANDEM_WORKER=index:count:parent-pid:stats-folder` in their environment; each loads its own models
   and listens on the shared ports with SO_REUSEPORT (the kernel spreads connections over them);
3. prints `READY host:port` once every worker is ready (a worker that exits before: all stop, exit 2
   if it could not start, else 1);
4. serves /metrics summed over the workers (`server_core.shared_stats`; the process gauges too);
5. restarts a worker that exits while serving (after 1 s, doubling up to 30 s while restarts keep
   failing within `STABLE_S`);
6. on SIGTERM or SIGINT sends SIGTERM to every worker (each drains its in-flight calls within
   `--grace`), SIGKILLs any still there `KILL_AFTER_S` after the grace, removes the statistics
   folder and exits 0.

A worker answers ModelStatistics for all workers (`server_core.shared_stats`), refuses model
management (each process has its own models: a load would reach only one of them), and runs its
frameworks on cores / N threads. Workers run in sessions of their own (a terminal's Ctrl-C reaches
the parent, which stops them in order) and die with the parent (PR_SET_PDEATHSIG), so none outlives it.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .settings import WORKER_ENV, ServerSettings, WorkerInfo

if TYPE_CHECKING:
    from .metrics import MetricsEndpoint

log = logging.getLogger("tandem.workers")
STABLE_S = 10.0  # a worker that served this long restarts after the first delay again
FIRST_RESTART_S, MAX_RESTART_S = 1.0, 30.0
KILL_AFTER_S = 15.0
_PR_SET_PDEATHSIG = 1


# ---------------------------------------------------------------- in a worker


def attach_to_parent(worker: WorkerInfo) -> None:
    """Die (SIGTERM, a graceful stop) when the parent does; exit now if it already has."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux: the parent's stop() still reaches it
        pass
    if os.getppid() != worker.parent_pid:
        log.error("worker %d: the parent (pid %d) is gone; exiting", worker.index, worker.parent_pid)
        raise SystemExit(1)


def leave_parent(worker: WorkerInfo) -> None:
    """A worker that stops after its parent died (killed: it could not clean up) removes the
    statistics folder; the other workers' late writes into it fail quietly."""
    if os.getppid() != worker.parent_pid:
        shutil.rmtree(worker.stats_dir, ignore_errors=True)


def threads_per_process(settings: ServerSettings, cores: int | None = None) -> int:
    """A framework's share of `cores` (default: those this process may run on) in this process: all
    of them, or cores / N in a worker of `--processes N`."""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    count = settings.worker.count if settings.worker is not None else 1
    return max(1, cores // count)


# ---------------------------------------------------------------- the parent


class _Worker:
    def __init__(self, index: int, argv: list[str], env: dict[str, str]):
        self.index = index
        self.argv = argv
        self.env = env
        self.proc: subprocess.Popen[str] | None = None
        self.ready = threading.Event()
        self.started = 0.0
        self.restart_at: float | None = None
        self.delay = FIRST_RESTART_S

    def start(self) -> None:
        self.ready.clear()
        self.restart_at = None
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.argv, env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     text=True, errors="replace", start_new_session=True)
        threading.Thread(target=self._read, args=(self.proc,), name=f"worker-{self.index}-stdout",
                         daemon=True).start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("READY ") and proc is self.proc:
                self.ready.set()
            else:
                sys.stdout.write(line)
                sys.stdout.flush()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def exited(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the worker and anything it started
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()


def _reserve(host: str, port: int) -> socket.socket:
    """A socket bound to host:port with SO_REUSEPORT and not listening: it holds the port (a free one
    for 0) for the workers, which listen on it with SO_REUSEPORT; it receives no connection."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


class Supervisor:
    """The parent of `--processes N` (see the module docstring); `run()` until a signal."""

    def __init__(self, settings: ServerSettings, *, module: str, argv: list[str], prog: str):
        self.settings = settings
        self.module = module
        self.argv = list(argv)
        self.prog = prog
        self.workers: list[_Worker] = []
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._metrics_http: MetricsEndpoint | None = None
        self.folder: Path | None = None
        self.port = 0
        self.http_port: int | None = None

    # -- start ----------------------------------------------------------------------------------

    def _bind(self) -> None:
        from .server import bind_port

        s = self.settings
        grpc_sock = bind_port("gRPC", s.host, s.port, "--port", lambda: _reserve(s.host, s.port))
        self._held.append(grpc_sock)
        self.port = grpc_sock.getsockname()[1]
        if s.http_port is not None:
            http_port = s.http_port
            http_sock = bind_port("HTTP", s.host, http_port, "--http-port", lambda: _reserve(s.host, http_port))
            self._held.append(http_sock)
            self.http_port = http_sock.getsockname()[1]
        if s.metrics_port is not None:
            from .metrics import Metrics
            from .process_metrics import WorkersCollector

            metrics = Metrics(snapshots=self._totals)
            metrics.registry.register(WorkersCollector(self._pids))
            port = s.metrics_port
            self._metrics_http = bind_port("metrics", s.host, port, "--metrics-port",
                                           lambda: metrics.bind(s.host, port))

    @property
    def metrics_port(self) -> int | None:
        return self._metrics_http.port if self._metrics_http is not None else None

    def _totals(self):
        return self.folder_stats.totals() if self.folder is not None else []

    @property
    def folder_stats(self):
        from .shared_stats import StatsFolder

        assert self.folder is not None
        return StatsFolder(self.folder)

    def _pids(self) -> list[int]:
        return [os.getpid()] + [w.pid for w in self.workers if w.proc is not None and w.exited() is None]

    def _worker_argv(self) -> list[str]:
        extra = ["--processes", "1", "--host", self.settings.host, "--port", str(self.port), "--metrics-port", "-1",
                 "--http-port", str(self.http_port if self.http_port is not None else -1)]
        return [sys.executable, "-m", self.module, *self.argv, *extra]

    def start(self) -> None:
        """Bind, start the workers and wait until all are ready. StartupError / _WorkerFailed on failure."""
        self._bind()
        self.folder = Path(tempfile.mkdtemp(prefix=f"{self.prog}-workers-"))
        count = self.settings.processes
        for index in range(count):
            info = WorkerInfo(index, count, self.folder, os.getpid())
            env = {**os.environ, WORKER_ENV: info.encode(), "PYTHONUNBUFFERED": "1"}
            worker = _Worker(index, self._worker_argv(), env)
            self.workers.append(worker)
            worker.start()
        while not all(w.ready.is_set() for w in self.workers):
            for w in self.workers:
                code = w.exited()
                if code is not None and not w.ready.is_set():
                    raise _WorkerFailed(w.index, code)
            if self._stop.wait(0.05):
                raise _Interrupted()
        if self._metrics_http is not None:
            self._metrics_http.start()

    # -- serve ----------------------------------------------------------------------------------

    def watch(self) -> None:
        """Restart workers that exit, until stop() is asked for."""
        while not self._stop.wait(0.2):
            now = time.monotonic()
            for w in self.workers:
                if w.restart_at is not None:
                    if now >= w.restart_at:
                        log.info("starting worker %d again", w.index)
                        w.start()
                    continue
                code = w.exited()
                if code is None:
                    continue
                served = now - w.started
                w.delay = FIRST_RESTART_S if served >= STABLE_S else min(MAX_RESTART_S, w.delay * 2)
                w.restart_at = now + w.delay
                self.folder_stats.forget_in_flight(w.pid)
                log.warning("worker %d (pid %d) exited with code %s after %.1fs; restarting it in %.0fs",
                            w.index, w.pid, code, served, w.delay)

    def request_stop(self, *_args) -> None:
        self._stop.set()

    def stop(self) -> None:
        for w in self.workers:
            w.terminate()
        deadline = time.monotonic() + self.settings.grace_s + KILL_AFTER_S
        for w in self.workers:
            if w.proc is None:
                continue
            try:
                w.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker %d (pid %d) did not stop within its grace; killing it", w.index, w.pid)
            w.kill()
        if self._metrics_http is not None:
            self._metrics_http.stop()
            self._metrics_http = None
        for sock in self._held:
            sock.close()
        self._held = []
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


class _WorkerFailed(Exception):
    def __init__(self, index: int, code: int):
        super().__init__(f"worker {index} exited with code {code} before it was ready")
        self.code = code


class _Interrupted(Exception):
    pass


def supervise(settings: ServerSettings, *, module: str, argv: list[str], prog: str) -> int:
    """Run `--processes N` (the parent) until SIGTERM or SIGINT; the exit code for the service's main()."""
    from .server import StartupError

    sup = Supervisor(settings, module=module, argv=argv, prog=prog)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, sup.request_stop)
    try:
        try:
            sup.start()
        except StartupError as e:
            print(f"{prog}: error: {e}", file=sys.stderr, flush=True)
            return 2
        except _WorkerFailed as e:
            print(f"{prog}: error: {e}; see its messages above", file=sys.stderr, flush=True)
            return 2 if e.code == 2 else 1
        except _Interrupted:
            return 1
        rest = f" http={settings.host}:{sup.http_port}" if sup.http_port is not None else ""
        metrics = sup.metrics_port
        log.info("serving with %d processes: gRPC on %s:%d, REST %s, metrics %s", settings.processes, settings.host,
                 sup.port, f"{settings.host}:{sup.http_port}" if sup.http_port is not None else "off",
                 f"http://{settings.host}:{metrics}/metrics" if metrics is not None else "off")
        print(f"READY {settings.host}:{sup.port}{rest}", flush=True)
        sup.watch()
        log.info("signal received: stopping the workers (grace %.1fs)", settings.grace_s)
        return 0
    finally:
        sup.stop()
