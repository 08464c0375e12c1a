"""The server interceptor: the one place errors become statuses, plus access control (bearer
token on every RPC but health checks; management RPCs switchable off).

Wrapped handlers are built once per method and cached: the per-call cost is a dict lookup.
"""

from __future__ import annotations

import hmac
import logging

import grpc

from .errors import PermissionDenied, Unauthenticated, to_status

log = logging.getLogger("tandem.server")

HEALTH_PREFIX = "/grpc.health.v1.Health/"
MANAGEMENT_METHODS = frozenset({
    "/inference.GRPCInferenceService/RepositoryModelLoad",
    "/inference.GRPCInferenceService/RepositoryModelUnload",
})


class ServerInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, token: str | None = None, management: bool = True):
        self._expected = f"Bearer {token}".encode() if token else None
        self._management = management
        self._cache: dict[tuple[str, int], grpc.RpcMethodHandler] = {}

    async def intercept_service(self, continuation, details):
        handler = await continuation(details)
        if handler is None:
            return None
        key = (details.method, id(handler))
        wrapped = self._cache.get(key)
        if wrapped is None:
            wrapped = self._cache[key] = self._wrap(details.method, handler)
        return wrapped

    def _check(self, method: str, context) -> None:
        """Raise the ServingError that refuses this call, if any."""
        if self._expected is not None and not method.startswith(HEALTH_PREFIX):
            given = ""
            for key, value in context.invocation_metadata() or ():
                if key == "authorization":
                    given = value
            if not hmac.compare_digest(given.encode(), self._expected):
                reason = "missing" if not given else "wrong"
                raise Unauthenticated(f"{reason} bearer token: send metadata 'authorization: Bearer <token>'")
        if not self._management and method in MANAGEMENT_METHODS:
            raise PermissionDenied("model management is disabled on this server (started with --no-management)")

    def _wrap(self, method: str, handler):
        check = self._check

        def unary(behaviour):
            async def run(request, context):
                try:
                    check(method, context)
                    return await behaviour(request, context)
                except Exception as exc:  # noqa: BLE001 - the one place errors become statuses
                    if isinstance(exc, grpc.aio.AbortError):
                        raise
                    await context.abort(*to_status(exc, method))
            return run

        def streaming(behaviour):
            async def run(request, context):
                try:
                    check(method, context)
                    async for item in behaviour(request, context):
                        yield item
                except Exception as exc:  # noqa: BLE001
                    if isinstance(exc, grpc.aio.AbortError):
                        raise
                    await context.abort(*to_status(exc, method))
            return run

        if handler.unary_unary:
            return handler._replace(unary_unary=unary(handler.unary_unary))
        if handler.stream_stream:
            return handler._replace(stream_stream=streaming(handler.stream_stream))
        if handler.unary_stream:
            return handler._replace(unary_stream=streaming(handler.unary_stream))
        return handler._replace(stream_unary=unary(handler.stream_unary))
