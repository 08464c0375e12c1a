"""One Locust process's part of a Tandem load test, wired to Locust's events by `install()`.

Roles follow Locust's runner: a local runner runs users and collects; in distributed mode each
worker runs users and sends its exact samples to the master every second (custom message
`tandem_samples`), and the master, when the test stops, asks every worker for what it still holds
(`tandem_flush`) and waits for the answers before writing the figures. Figures leave out the
warm-up (`--warmup`) exactly; Locust's own table is reset when the warm-up ends.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import gevent
from locust.runners import MasterRunner, WorkerRunner

from client.messages import ModelMetadata

from ..stats.samples import SampleStore, percentile_line, summarize
from ..targets import Target, kind_of, parse_url
from . import options as opts
from .inputs import RequestPool, build_pool, load_request_set

log = logging.getLogger("tandem.loadtests")
SAMPLES_MSG, FLUSH_MSG, RESET_MSG = "tandem_samples", "tandem_flush", "tandem_reset_stats"
REPORT_INTERVAL_S = 1.0
FLUSH_TIMEOUT_S = 5.0
RUN_SCHEMA = "tandem.locust-run/1"
_installed: set[str] = set()


def session_of(environment) -> LoadSession:
    session = getattr(environment, "tandem", None)
    if session is None:
        raise RuntimeError("the Tandem load session is not installed: call loadtests.session.install() "
                           "in the locustfile")
    return session


class LoadSession:
    def __init__(self, environment, scenario: str):
        self.environment = environment
        self.scenario = scenario
        self.options: opts.LoadOptions | None = None
        self.store = SampleStore()
        self.pool: RequestPool | None = None
        self.target: Target | None = None
        self.meta: ModelMetadata | None = None  # the model's signature
        self.info: dict = {}
        self.started: float | None = None
        self.measure_start: float | None = None
        self.ended: float | None = None
        self.users_t: list[float] = []
        self.users_n: list[int] = []
        self.ramp: dict | None = None  # filled by the ramp shape
        self.sweep: dict | None = None  # filled by the sweep shape: its steps' users and times
        self.fatal: str | None = None
        self._acks: set[str] = set()
        self.flushed: dict | None = None  # distributed: {"workers", "flushed"} when the test stopped
        self._flush_id = ""
        self._greenlets: list = []

    # ------------------------------------------------------------------ roles
    @property
    def runner(self):
        return self.environment.runner

    @property
    def collects(self) -> bool:
        return not isinstance(self.runner, WorkerRunner)

    @property
    def runs_users(self) -> bool:
        return not isinstance(self.runner, MasterRunner)

    def load_options(self) -> opts.LoadOptions:
        self.options = opts.from_parsed(self.environment.parsed_options, self.environment.host)
        return self.options

    # ------------------------------------------------------------------ users' side
    def record(self, t: float, ms: float, error=None, check: int = 0) -> None:
        self.store.add(t, ms, error, check)

    def prepare(self) -> None:
        """The requests (from the request set, or built from the target's signature) encoded for
        the target's kind (on processes that run users)."""
        o = self.load_options()
        self.target = target = parse_url("target", o.target)
        kind = kind_of(target)
        if o.request_set:
            pool, meta = load_request_set(o.request_set)
        else:
            stated = kind.metadata(target, o.model, o.model_version, min(o.deadline_s, 10.0))
            if stated is None:
                raise ValueError(f"{target.kind}:// states no signature: give --request-set (written by "
                                 "`python -m loadtests compare`) to say what to send")
            meta = stated
            pool = build_pool(meta, batch_size=o.batch_size, inputs=o.inputs, seed=o.seed, version=o.model_version)
        caller = kind.open(target, o.model, o.model_version, meta, o.deadline_s)
        try:
            pool.encode(caller)
        finally:
            caller.close()
        self.pool, self.meta = pool, meta
        self.info = {"inputs": self.pool.description,
                     "reference": self.pool.reference_source if o.check_rate > 0 else "not checked"}

    # ------------------------------------------------------------------ events
    def on_test_start(self, **_kw) -> None:
        self.started = time.time()
        self.ended = None
        try:
            if self.runs_users:
                self.prepare()
            elif self.options is None:
                self.load_options()
        except Exception as e:  # noqa: BLE001 - any failure here means no load can run: say why, stop
            self.measure_start = self.started  # nothing was measured: the results say why (fatal)
            self._fail(f"cannot prepare the load test: {e}")
            return
        assert self.options is not None  # prepare() and load_options() set it
        self.measure_start = self.started + self.options.warmup_s
        if isinstance(self.runner, WorkerRunner):
            self._spawn(self._send_loop)
        if self.collects:
            self._spawn(self._collector_loop)

    def _end_test(self) -> None:
        """Stop the test as Locust's -t would: quit when headless, else stop (the web UI stays)."""
        headless = getattr(self.environment.parsed_options, "headless", False)
        gevent.spawn(self.runner.quit if headless or isinstance(self.runner, WorkerRunner) else self.runner.stop)

    def _fail(self, message: str) -> None:
        self.fatal = message
        log.error("tandem: %s", message)
        self.environment.process_exit_code = 2
        if isinstance(self.runner, WorkerRunner):
            self.runner.send_message(SAMPLES_MSG, {"fatal": message})
        self._end_test()

    def _spawn(self, fn) -> None:
        self._greenlets.append(gevent.spawn(fn))

    def _send_loop(self) -> None:
        while True:
            gevent.sleep(REPORT_INTERVAL_S)
            self._send()

    def _send(self, flush_id: str | None = None) -> None:
        payload = self.store.drain()
        payload["info"] = self.info
        if flush_id:
            payload["flush"] = flush_id
        self.runner.send_message(SAMPLES_MSG, payload)

    def _collector_loop(self) -> None:
        """Master/local: users over time, Locust's reset after the warm-up, the precise end."""
        o = self.options
        # spawned by on_test_start once both are set
        assert o is not None and self.measure_start is not None
        reset_done = o.warmup_s <= 0
        stop_at = self.measure_start + o.measure_s if o.measure_s > 0 else None
        while True:
            now = time.time()
            self.users_t.append(now)
            self.users_n.append(self.runner.user_count)
            if not reset_done and now >= self.measure_start:
                if isinstance(self.runner, MasterRunner):
                    self.runner.send_message(RESET_MSG)  # workers hold unsent warm-up stats
                self.runner.stats.reset_all()
                reset_done = True
                log.info("tandem: warm-up over, measuring")
            if stop_at is not None and now >= stop_at:
                # the window ends at stop_at exactly, however late this loop woke on a busy machine:
                # answers that came later are outside it
                self.ended = stop_at
                log.info("tandem: measured for %.1f s, stopping", o.measure_s)
                self._end_test()
                return
            wake = [now + REPORT_INTERVAL_S]
            if not reset_done:
                wake.append(self.measure_start)
            if stop_at is not None:
                wake.append(stop_at)
            gevent.sleep(max(0.0, min(wake) - time.time()))

    def on_test_stopping(self, **_kw) -> None:
        if self.collects and self.ended is None:
            self.ended = time.time()
        if isinstance(self.runner, MasterRunner):
            self._flush_workers()

    def _flush_workers(self) -> None:
        workers = {w.id for w in self.runner.clients.all}
        if not workers:
            return
        self._flush_id, self._acks = uuid.uuid4().hex, set()
        self.runner.send_message(FLUSH_MSG, {"id": self._flush_id})
        deadline = time.monotonic() + FLUSH_TIMEOUT_S
        while not workers <= self._acks and time.monotonic() < deadline:
            gevent.sleep(0.05)
        self.flushed = {"workers": len(workers), "flushed": len(workers & self._acks)}
        if not workers <= self._acks:
            log.warning("tandem: %d worker(s) did not send their last samples within %.0f s",
                        len(workers - self._acks), FLUSH_TIMEOUT_S)

    def on_test_stop(self, **_kw) -> None:
        for g in self._greenlets:
            g.kill(block=False)
        self._greenlets = []
        if isinstance(self.runner, WorkerRunner) and self.options is not None:
            self._send()

    def on_samples(self, environment, msg, **_kw) -> None:  # master
        data = msg.data or {}
        if data.get("fatal"):
            self.fatal = data["fatal"]
            log.error("tandem: worker %s: %s", msg.node_id, data["fatal"])
            environment.process_exit_code = 2
            return
        self.store.merge(data)
        self.info.update(data.get("info") or {})
        if data.get("flush") and data["flush"] == self._flush_id:
            self._acks.add(msg.node_id)

    def on_flush(self, environment, msg, **_kw) -> None:  # worker
        self._send((msg.data or {}).get("id"))

    def on_reset_stats(self, environment, msg, **_kw) -> None:  # worker
        environment.runner.stats.reset_all()

    def on_quitting(self, environment, **_kw) -> None:
        if not self.collects or self.options is None or self.started is None:
            return
        end = self.ended or time.time()
        result = self.result(end)
        print(f"tandem: {self.scenario} {self.options.model} @ {self.options.target}: {result['requests']['ok']} ok, "
              f"{result['requests']['failed']} failed, {result['requests']['rps']} req/s; "
              f"{percentile_line(result['latency_ms'])}", file=sys.stderr, flush=True)
        if self.options.results_json:
            path = Path(self.options.results_json)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_text(json.dumps(result, indent=1))
            tmp.replace(path)

    def result(self, end: float) -> dict:
        o = self.options
        assert o is not None and self.measure_start is not None  # set by on_test_start
        start = min(self.measure_start, end)
        total = self.runner.stats.total
        users = [(t - start, n) for t, n in zip(self.users_t, self.users_n) if start <= t <= end]
        return {
            "schema": RUN_SCHEMA, "scenario": self.scenario, "target": o.target, "model": o.model,
            "model_version": o.model_version, "batch_size": o.batch_size, "warmup_s": o.warmup_s,
            "check_rate": o.check_rate, "check_tolerance": {"atol": o.check_atol, "rtol": o.check_rtol},
            **self.info,
            "started_at": datetime.fromtimestamp(start, timezone.utc).isoformat(timespec="seconds"),
            "measure_start": start, "end": end,
            "ended_in_warmup": end <= self.measure_start, "fatal": self.fatal,
            "users": {"t": [round(t, 3) for t, _ in users], "count": [n for _, n in users]},
            "locust_totals": {"requests": total.num_requests, "failures": total.num_failures},
            "ramp": self.ramp, "sweep": self.sweep, "workers": self.flushed,
            **summarize(self.store, start, end, o.batch_size),
        }


def install(events, scenario: str, *, single_user: bool = False) -> None:
    """Register the options and the session's listeners on Locust's `events` (once per process)."""
    if _installed:
        if scenario not in _installed:
            raise RuntimeError(f"one Tandem scenario per Locust process: {scenario} was loaded after "
                               f"{next(iter(_installed))}; pass a single locustfile with -f")
        return
    _installed.add(scenario)

    @events.init_command_line_parser.add_listener
    def _parser(parser, **_kw):
        if not any(getattr(a, "dest", "") == "model" for a in parser._actions):
            opts.add_arguments(parser)

    @events.init.add_listener
    def _init(environment, runner, **_kw):
        session = LoadSession(environment, scenario)
        environment.tandem = session
        parsed = environment.parsed_options
        if runner is None:
            return
        if isinstance(runner, MasterRunner):
            runner.register_message(SAMPLES_MSG, session.on_samples)
        if isinstance(runner, WorkerRunner):
            runner.register_message(FLUSH_MSG, session.on_flush)
            runner.register_message(RESET_MSG, session.on_reset_stats)
            return  # a worker gets its options from the master when the test starts
        if single_user and parsed is not None and parsed.num_users not in (None, 1):
            log.warning("tandem: the %s scenario runs one user; ignoring --users %s", scenario, parsed.num_users)
        if single_user and parsed is not None:
            parsed.num_users, parsed.spawn_rate = 1, 1
        if parsed is not None and getattr(parsed, "headless", False):
            try:
                session.load_options()
            except ValueError as e:
                print(f"error: {e}", file=sys.stderr, flush=True)
                raise SystemExit(2) from None

    events.test_start.add_listener(lambda environment, **kw: session_of(environment).on_test_start(**kw))
    events.test_stopping.add_listener(lambda environment, **kw: session_of(environment).on_test_stopping(**kw))
    events.test_stop.add_listener(lambda environment, **kw: session_of(environment).on_test_stop(**kw))
    events.quitting.add_listener(lambda environment, **kw: session_of(environment).on_quitting(environment, **kw))
