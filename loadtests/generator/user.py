"""The abstract Locust user of every target kind: one call per task, one stats row per call.

Call `init_grpc_gevent()` first (the locustfiles do, before any channel exists): gRPC's blocking
calls then yield to other greenlets instead of blocking the whole Locust process.

The target is Locust's `--host`: a URL whose scheme picks the kind (`grpc://` OIP v2 by default,
`torchserve://`, `tfserving://`; see loadtests.targets). Every call has the `--deadline`; retries
are off (a load test must see each failure as it happens). Requests are encoded before the test,
so the timed part is the call alone: `time.perf_counter()` around it, exact to the microsecond in
Tandem's figures, rounded in Locust's own. A sample of answers (`--check-rate`) is decoded and
checked; a wrong answer is a failed request.
"""

from __future__ import annotations

import random
import time

from locust import User, constant, task
from locust.exception import StopUser

from ..stats.samples import CHECK_FAILED, CHECK_NONE, CHECK_PASSED
from ..targets import Caller, CallError, kind_of
from .checks import WRONG_ANSWER, WrongAnswer, compare
from .options import LoadOptions
from .session import LoadSession, session_of

_gevent_ready = False


def init_grpc_gevent() -> None:
    """Make gRPC cooperate with gevent (idempotent). Must run before the first channel is made."""
    global _gevent_ready
    if not _gevent_ready:
        from grpc.experimental import gevent as grpc_gevent

        grpc_gevent.init_gevent()
        _gevent_ready = True


class TargetUser(User):
    """Sends the load session's pre-encoded requests in turn, as fast as they are answered
    (closed loop). Subclasses choose `wait_time` and may add tasks calling `self.infer()`."""

    abstract = True
    wait_time = constant(0)

    _session: LoadSession
    _options: LoadOptions
    _caller: Caller | None  # from on_start to on_stop

    def on_start(self) -> None:
        session = session_of(self.environment)
        if session.pool is None or not len(session.pool):
            raise StopUser()  # preparing the test failed; the session has said why and is quitting
        # prepare() set the options, the target and the signature before the pool
        assert session.options is not None and session.target is not None and session.meta is not None
        self._session = session
        self._options = o = session.options
        target = session.target
        self._caller = kind_of(target).open(target, o.model, o.model_version, session.meta, o.deadline_s)
        self._rng = random.Random(f"{o.seed}:{id(self)}")
        self._next = self._rng.randrange(len(session.pool))
        self._type = target.kind
        self._name = f"infer {o.model}" + (f" v{o.model_version}" if o.model_version else "")

    def on_stop(self) -> None:
        caller = getattr(self, "_caller", None)
        if caller is not None:
            caller.close()
            self._caller = None

    @task
    def infer(self) -> None:
        pool, o, caller = self._session.pool, self._options, self._caller
        assert pool is not None and caller is not None  # on_start checked the pool and opened the caller
        index = self._next
        self._next = (index + 1) % len(pool)
        start = time.perf_counter()
        try:
            response, length = caller.call(pool.requests[index], o.deadline_s)
        except CallError as e:
            ms = (time.perf_counter() - start) * 1000.0
            self._report(ms, 0, e, (e.code, e.message))
            return
        ms = (time.perf_counter() - start) * 1000.0
        check, exception, error = self._check(index, response)
        self._report(ms, length, exception, error, check)

    def _check(self, index: int, response):
        pool, o, caller = self._session.pool, self._options, self._caller
        assert pool is not None and caller is not None  # on_start checked the pool and opened the caller
        reference = pool.references[index]
        if o.check_rate <= 0 or (reference is not None and self._rng.random() >= o.check_rate):
            return CHECK_NONE, None, None
        try:
            outputs = caller.decode(response)
        except CallError as e:
            return CHECK_FAILED, e, (e.code, e.message)
        if reference is None:  # the first answer to this request becomes its reference
            pool.references[index] = {k: v.copy() for k, v in outputs.items()}
            return CHECK_NONE, None, None
        try:
            compare(outputs, reference, o.check_atol, o.check_rtol)
        except WrongAnswer as e:
            return CHECK_FAILED, e, (WRONG_ANSWER, f"{e}: {e.detail}")
        return CHECK_PASSED, None, None

    def _report(self, ms: float, length: int, exception, error, check: int = CHECK_NONE) -> None:
        self.environment.events.request.fire(
            request_type=self._type, name=self._name, response_time=ms, response_length=length,
            exception=exception, context={},
        )
        self._session.record(time.time(), ms, error, check)

