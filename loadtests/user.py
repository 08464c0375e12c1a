"""The abstract OIP v2 gRPC Locust user: one ModelInfer per task, one stats row per RPC.

Call `init_grpc_gevent()` first (the locustfiles do, before any channel exists): gRPC's blocking
calls then yield to other greenlets instead of blocking the whole Locust process.

The target is Locust's `--host` (HOST:PORT or grpc://HOST:PORT). Every call has the `--deadline`;
retries are off (a load test must see each failure as it happens). Requests are encoded before
the test, so the timed part is the RPC alone: `time.perf_counter()` around the call, exact to the
microsecond in Tandem's figures, rounded in Locust's own. A sample of answers (`--check-rate`) is
decoded and checked; a wrong answer is a failed request.
"""

from __future__ import annotations

import random
import time

import grpc
from locust import User, constant, task
from locust.exception import StopUser

from client.channel import ChannelSettings, open_channel
from client.codec import CodecError
from client.errors import from_rpc_error
from client.messages import infer_outputs
from protos import grpc_predict_v2_pb2_grpc as pb_grpc

from .checks import WRONG_ANSWER, WrongAnswer, compare
from .samples import CHECK_FAILED, CHECK_NONE, CHECK_PASSED
from .session import session_of

REQUEST_TYPE = "gRPC"
_gevent_ready = False


def init_grpc_gevent() -> None:
    """Make gRPC cooperate with gevent (idempotent). Must run before the first channel is made."""
    global _gevent_ready
    if not _gevent_ready:
        from grpc.experimental import gevent as grpc_gevent

        grpc_gevent.init_gevent()
        _gevent_ready = True


class OipV2User(User):
    """Sends the load session's pre-encoded requests in turn, as fast as they are answered
    (closed loop). Subclasses choose `wait_time` and may add tasks calling `self.infer()`."""

    abstract = True
    wait_time = constant(0)

    def on_start(self) -> None:
        session = session_of(self.environment)
        if session.pool is None or not len(session.pool):
            raise StopUser()  # preparing the test failed; the session has said why and is quitting
        self._session = session
        self._options = o = session.options
        settings = ChannelSettings(o.target, timeout=o.deadline_s, max_attempts=1)
        self._channel = open_channel(settings, grpc)
        self._model_infer = pb_grpc.GRPCInferenceServiceStub(self._channel).ModelInfer
        self._rng = random.Random(f"{o.seed}:{id(self)}")
        self._next = self._rng.randrange(len(session.pool))
        self._name = f"ModelInfer {o.model}" + (f" v{o.model_version}" if o.model_version else "")

    def on_stop(self) -> None:
        channel = getattr(self, "_channel", None)
        if channel is not None:
            channel.close()
            self._channel = None

    @task
    def infer(self) -> None:
        pool, o = self._session.pool, self._options
        index = self._next
        self._next = (index + 1) % len(pool)
        start = time.perf_counter()
        try:
            response = self._model_infer(pool.requests[index], timeout=o.deadline_s)
        except grpc.RpcError as e:
            ms = (time.perf_counter() - start) * 1000.0
            error = from_rpc_error(e)
            self._report(ms, 0, error, (error.code.name, error.message))
            return
        ms = (time.perf_counter() - start) * 1000.0
        length = sum(len(b) for b in response.raw_output_contents) or response.ByteSize()
        check, exception, error = self._check(index, response)
        self._report(ms, length, exception, error, check)

    def _check(self, index: int, response):
        pool, o = self._session.pool, self._options
        reference = pool.references[index]
        if o.check_rate <= 0 or (reference is not None and self._rng.random() >= o.check_rate):
            return CHECK_NONE, None, None
        try:
            outputs = infer_outputs(response)
        except CodecError as e:
            return CHECK_FAILED, e, ("BAD_RESPONSE", str(e))
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
            request_type=REQUEST_TYPE, name=self._name, response_time=ms, response_length=length,
            exception=exception, context={},
        )
        self._session.record(time.time(), ms, error, check)
