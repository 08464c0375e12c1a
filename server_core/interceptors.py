"""Server interceptors: the one place errors become statuses, and access control (token, management)."""

from __future__ import annotations

import hmac
import logging

import grpc

from .errors import PermissionDenied, ServingError, Unauthenticated, to_status

log = logging.getLogger("tandem.server")

HEALTH_PREFIX = "/grpc.health.v1.Health/"
MANAGEMENT_METHODS = frozenset({
    "/inference.GRPCInferenceService/RepositoryModelLoad",
    "/inference.GRPCInferenceService/RepositoryModelUnload",
})


def _wrap(handler, unary, streaming):
    """Return `handler` with its behaviour replaced via the matching wrapper."""
    if handler is None:
        return None
    if handler.unary_unary:
        return handler._replace(unary_unary=unary(handler.unary_unary))
    if handler.stream_stream:
        return handler._replace(stream_stream=streaming(handler.stream_stream))
    if handler.unary_stream:
        return handler._replace(unary_stream=streaming(handler.unary_stream))
    return handler._replace(stream_unary=unary(handler.stream_unary))


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    """Maps ServingError to its status and anything unexpected to INTERNAL (detail to the log only)."""

    async def intercept_service(self, continuation, details):
        handler = await continuation(details)
        method = details.method

        def unary(behaviour):
            async def run(request, context):
                try:
                    return await behaviour(request, context)
                except Exception as exc:  # noqa: BLE001 - the one place errors become statuses
                    if isinstance(exc, grpc.aio.AbortError):
                        raise
                    await context.abort(*to_status(exc, method))
            return run

        def streaming(behaviour):
            async def run(request, context):
                try:
                    async for item in behaviour(request, context):
                        yield item
                except Exception as exc:  # noqa: BLE001
                    if isinstance(exc, grpc.aio.AbortError):
                        raise
                    await context.abort(*to_status(exc, method))
            return run

        return _wrap(handler, unary, streaming)


def _refuse(error: ServingError):
    def unary(_behaviour):
        async def run(request, context):
            raise error
        return run

    def streaming(_behaviour):
        async def run(request, context):
            raise error
            yield  # pragma: no cover - makes this an async generator
        return run

    return unary, streaming


class AccessInterceptor(grpc.aio.ServerInterceptor):
    """Bearer-token auth on every RPC except health checks; management RPCs switchable off."""

    def __init__(self, token: str | None, management: bool):
        self._expected = f"Bearer {token}".encode() if token else None
        self._management = management

    async def intercept_service(self, continuation, details):
        handler = await continuation(details)
        method = details.method
        if self._expected is not None and not method.startswith(HEALTH_PREFIX):
            given = dict(details.invocation_metadata or ()).get("authorization", "")
            if not hmac.compare_digest(given.encode(), self._expected):
                reason = "missing" if not given else "wrong"
                return _wrap(handler, *_refuse(Unauthenticated(
                    f"{reason} bearer token: send metadata 'authorization: Bearer <token>'")))
        if not self._management and method in MANAGEMENT_METHODS:
            return _wrap(handler, *_refuse(PermissionDenied(
                "model management is disabled on this server (started with --no-management)")))
        return handler
