"""The server interceptor: the one place errors become statuses, plus access control and draining.

- Errors: any exception of a handler becomes a status here (`errors.to_status`).
- Undecodable requests: bytes that do not parse as the method's request message answer
  INVALID_ARGUMENT (not grpc's UNKNOWN with a traceback per call); the log gets one rate-limited line.
- Access: a bearer token on every RPC but health checks (`authorization: Bearer <token>`, the scheme
  matched case-insensitively as RFC 6750 says); management RPCs switchable off.
- No server paths: error messages and RepositoryIndex reasons pass through the `PathRedactor`.
- Draining: after `start_draining()` every new call but health checks answers UNAVAILABLE (so clients'
  retry-on-UNAVAILABLE covers it), while the calls already in flight finish; `wait_idle()` waits for
  them. The server stops its transport only afterwards.

Wrapped handlers are built once per method. `GuardedServices` registers services with their handlers
wrapped at registration, so a call pays no interceptor at all (grpc.aio runs each interceptor as a
coroutine on every call); as a grpc.aio interceptor the cost is one more coroutine and a dict lookup.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time

import grpc

from protos import grpc_predict_v2_pb2 as pb

from .errors import InvalidArgument, PathRedactor, PermissionDenied, Unauthenticated, Unavailable, to_status

log = logging.getLogger("tandem.server")

HEALTH_PREFIX = "/grpc.health.v1.Health/"
MANAGEMENT_METHODS = frozenset({
    "/inference.GRPCInferenceService/RepositoryModelLoad",
    "/inference.GRPCInferenceService/RepositoryModelUnload",
})
BEARER = "bearer"
UNDECODABLE_LOG_INTERVAL_S = 60.0


def bearer_token(header: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` value (scheme case-insensitive), else None."""
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != BEARER or not token.strip():
        return None
    return token.strip()


class RateLimitedLog:
    """At most one warning per `interval_s` seconds; the next one says how many were left out."""

    def __init__(self, logger: logging.Logger, interval_s: float, clock=time.monotonic):
        self._log, self._interval, self._clock = logger, interval_s, clock
        self._next = 0.0
        self.suppressed = 0

    def warning(self, msg: str, *args) -> None:
        now = self._clock()
        if now < self._next:
            self.suppressed += 1
            return
        if self.suppressed:
            msg += f" ({self.suppressed} more since the last such message)"
        self._log.warning(msg, *args)
        self._next, self.suppressed = now + self._interval, 0


class _Undecodable:
    """What the request deserializer hands on for bytes that do not parse (raised in the handler)."""

    __slots__ = ("size", "message_type")

    def __init__(self, size: int, message_type: str):
        self.size, self.message_type = size, message_type


def _message_type(deserializer) -> str:
    owner = getattr(deserializer, "__self__", None)  # SomeMessage.FromString
    descriptor = getattr(owner, "DESCRIPTOR", None)
    return getattr(descriptor, "full_name", "the request message")


def _nothing() -> None:
    pass


def _same(response):
    return response


_REDACTED_ANSWERS = ("/RepositoryIndex", "/ModelStreamInfer")


def _safe_deserializer(deserializer):
    message_type = _message_type(deserializer)

    def deserialize(data: bytes):
        try:
            return deserializer(data)
        except Exception:  # noqa: BLE001 - any failure to parse is the caller's bytes
            return _Undecodable(len(data), message_type)
    return deserialize


class ServerInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, token: str | None = None, management: bool = True, clock=time.monotonic,
                 redact: PathRedactor | None = None, management_off: str = "started with --no-management"):
        """`management_off`: why management is off (said to callers refused), when `management` is False."""
        self._token = token.encode() if token else None
        self._redact = redact if redact else None
        self._management = management
        self._management_off = management_off
        self._cache: dict[tuple[str, int], grpc.RpcMethodHandler] = {}
        self._undecodable_log = RateLimitedLog(log, UNDECODABLE_LOG_INTERVAL_S, clock)
        self._draining = False
        self._in_flight = 0
        self._idle: asyncio.Event | None = None
        self._clock = clock
        self._last_call = float("-inf")

    # -- draining ------------------------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def draining(self) -> bool:
        return self._draining

    def start_draining(self) -> None:
        """From now on new calls (but health checks) answer UNAVAILABLE."""
        self._draining = True

    async def wait_idle(self, timeout: float, quiet_s: float = 0.0) -> bool:
        """Wait until no call is in flight and none arrived for `quiet_s` seconds (lame duck: clients
        still sending get UNAVAILABLE, so the transport stops only once they have gone quiet, and no
        call is caught half-received by it, which would answer CANCELLED). At most `timeout` seconds;
        True when idle."""
        deadline = self._clock() + timeout
        while True:
            now = self._clock()
            if now >= deadline:
                return False
            if self._in_flight:
                self._idle = asyncio.Event()
                try:
                    await asyncio.wait_for(self._idle.wait(), deadline - now)
                except (asyncio.TimeoutError, TimeoutError):
                    return False
                continue
            quiet_for = now - self._last_call
            if quiet_for >= quiet_s:
                return True
            await asyncio.sleep(min(quiet_s - quiet_for, deadline - now))

    def _enter(self) -> None:
        self._in_flight += 1
        self._last_call = self._clock()

    def _leave(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0 and self._idle is not None:
            self._idle.set()

    # -- interception --------------------------------------------------------------------------------

    async def intercept_service(self, continuation, details):
        handler = await continuation(details)
        if handler is None:
            return None
        return self.wrap(details.method, handler)

    def wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        """`handler` with this interceptor's checks, draining and error mapping (built once per
        method and handler, then cached)."""
        key = (method, id(handler))
        wrapped = self._cache.get(key)
        if wrapped is None:
            wrapped = self._cache[key] = self._wrap(method, handler)
        return wrapped

    def _check(self, method: str, context) -> None:
        """Raise the ServingError that refuses this call, if any."""
        if method.startswith(HEALTH_PREFIX):
            return
        if self._draining:
            raise Unavailable("the server is shutting down; retry on another instance")
        if self._token is not None:
            header = ""
            for key, value in context.invocation_metadata() or ():
                if key == "authorization":
                    header = value if isinstance(value, str) else value.decode(errors="replace")
            given = bearer_token(header) if header else None
            if given is None or not hmac.compare_digest(given.encode(), self._token):
                reason = "missing" if not header else "wrong"
                raise Unauthenticated(f"{reason} bearer token: send metadata 'authorization: Bearer <token>'")
        if not self._management and method in MANAGEMENT_METHODS:
            raise PermissionDenied(f"model management is disabled on this server ({self._management_off})")

    def _refuse_undecodable(self, method: str, request) -> None:
        if isinstance(request, _Undecodable):
            self._undecodable_log.warning("%s: refused %d bytes that are not a %s", method, request.size,
                                          request.message_type)
            raise InvalidArgument(f"the request is not a valid {request.message_type} "
                                  f"({request.size} bytes that do not parse)")

    def _public(self, response):
        if self._redact is None:
            return response
        if isinstance(response, pb.RepositoryIndexResponse):
            for model in response.models:
                model.reason = self._redact(model.reason)
        elif isinstance(response, pb.ModelStreamInferResponse) and response.error_message:
            response.error_message = self._redact(response.error_message)
        return response

    def _wrap(self, method: str, handler):
        check, refuse, enter, leave = self._check, self._refuse_undecodable, self._enter, self._leave
        if method.startswith(HEALTH_PREFIX):  # probes (and Watch streams) neither hold nor prolong a drain
            enter = leave = _nothing
        redact = self._redact
        # only these answers carry text that may name a server path (see _public)
        public = self._public if redact is not None and method.endswith(_REDACTED_ANSWERS) else _same

        async def checked_stream(requests):
            async for request in requests:
                refuse(method, request)
                yield request

        def unary(behaviour, streamed_requests: bool):
            async def run(request, context):
                enter()
                try:
                    check(method, context)
                    if streamed_requests:
                        request = checked_stream(request)
                    elif type(request) is _Undecodable:
                        refuse(method, request)
                    return public(await behaviour(request, context))
                except Exception as exc:  # noqa: BLE001 - the one place errors become statuses
                    if isinstance(exc, grpc.aio.AbortError):
                        raise
                    await context.abort(*to_status(exc, method, redact))
                finally:
                    leave()
            return run

        def streaming(behaviour, streamed_requests: bool):
            async def run(request, context):
                enter()
                try:
                    check(method, context)
                    if streamed_requests:
                        request = checked_stream(request)
                    else:
                        refuse(method, request)
                    async for item in behaviour(request, context):
                        yield public(item)
                except Exception as exc:  # noqa: BLE001 - the one place errors become statuses
                    if isinstance(exc, grpc.aio.AbortError):
                        raise
                    await context.abort(*to_status(exc, method, redact))
                finally:
                    leave()
            return run

        if handler.request_deserializer is not None:
            handler = handler._replace(request_deserializer=_safe_deserializer(handler.request_deserializer))
        if handler.unary_unary:
            return handler._replace(unary_unary=unary(handler.unary_unary, False))
        if handler.stream_stream:
            return handler._replace(stream_stream=streaming(handler.stream_stream, True))
        if handler.unary_stream:
            return handler._replace(unary_stream=streaming(handler.unary_stream, False))
        return handler._replace(stream_unary=unary(handler.stream_unary, True))


class GuardedServices:
    """Stands in for a grpc.aio server when services register (`add_XServicer_to_server(servicer,
    GuardedServices(server, interceptor))`): their method handlers reach the server already wrapped
    by `interceptor`, so the hot path has no interceptor chain."""

    def __init__(self, server: grpc.aio.Server, interceptor: ServerInterceptor):
        self._server = server
        self._interceptor = interceptor

    def add_registered_method_handlers(self, service: str, handlers: dict) -> None:
        wrap = self._interceptor.wrap
        self._server.add_registered_method_handlers(
            service, {name: wrap(f"/{service}/{name}", h) for name, h in handlers.items()})

    def add_generic_rpc_handlers(self, generic_handlers) -> None:
        self._server.add_generic_rpc_handlers(tuple(_GuardedGeneric(g, self._interceptor) for g in generic_handlers))


class _GuardedGeneric(grpc.GenericRpcHandler):
    def __init__(self, inner: grpc.GenericRpcHandler, interceptor: ServerInterceptor):
        self._inner = inner
        self._interceptor = interceptor

    def service(self, handler_call_details):
        handler = self._inner.service(handler_call_details)
        return None if handler is None else self._interceptor.wrap(handler_call_details.method, handler)
