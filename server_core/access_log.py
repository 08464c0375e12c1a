"""The optional access log: one line per request on the `tandem.access` logger, for both transports:

    grpc ModelInfer model=add_sub version=1 status=OK 1.84ms peer=ipv4:127.0.0.1:50312
    http ModelInfer model=add_sub version= status=400 INVALID_ARGUMENT 0.61ms peer=127.0.0.1

Off unless the service runs with `--access-log`. gRPC calls are logged by `AccessLogInterceptor`
(outermost, so it sees the status the error interceptor set); REST calls by the REST route wrapper.
Health checks of grpc.health.v1 are not logged.
"""

from __future__ import annotations

import logging
import time

import grpc

log = logging.getLogger("tandem.access")
_SKIP = "/grpc.health.v1.Health/"


class AccessLog:
    def __init__(self, logger: logging.Logger = log):
        self._log = logger

    def record(self, transport: str, method: str, model: str, version: str, status: str, duration_s: float,
               peer: str) -> None:
        self._log.info("%s %s model=%s version=%s status=%s %.2fms peer=%s", transport, method, model, version,
                       status, duration_s * 1e3, peer)


def _model_of(request) -> tuple[str, str]:
    name = getattr(request, "model_name", None) or getattr(request, "name", "") or ""
    version = getattr(request, "model_version", None) or getattr(request, "version", "") or ""
    return (name, version) if isinstance(name, str) and isinstance(version, str) else ("", "")


class AccessLogInterceptor(grpc.aio.ServerInterceptor):
    """Logs every unary and streaming call's method, model, version, final status, duration and peer."""

    def __init__(self, access_log: AccessLog):
        self._access = access_log

    async def intercept_service(self, continuation, details):
        handler = await continuation(details)
        if handler is None or details.method.startswith(_SKIP):
            return handler
        method = details.method.rsplit("/", 1)[-1]
        record = self._access.record

        def finish(t0, request, context, status):
            name, version = _model_of(request)
            record("grpc", method, name, version, status, time.perf_counter() - t0, context.peer() or "")

        def status_of(context, exc) -> str:
            code = context.code() if hasattr(context, "code") else None
            if isinstance(code, grpc.StatusCode):
                return code.name
            return "CANCELLED" if isinstance(exc, BaseException) and not isinstance(exc, Exception) else "UNKNOWN"

        if handler.unary_unary:
            inner = handler.unary_unary

            async def unary(request, context):
                t0 = time.perf_counter()
                try:
                    response = await inner(request, context)
                except BaseException as exc:
                    finish(t0, request, context, status_of(context, exc))
                    raise
                finish(t0, request, context, "OK")
                return response
            return handler._replace(unary_unary=unary)
        if handler.stream_stream:
            inner_stream = handler.stream_stream

            async def stream(requests, context):
                t0 = time.perf_counter()
                try:
                    async for item in inner_stream(requests, context):
                        yield item
                except BaseException as exc:
                    finish(t0, None, context, status_of(context, exc))
                    raise
                finish(t0, None, context, "OK")
            return handler._replace(stream_stream=stream)
        return handler
