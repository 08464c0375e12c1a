"""The gRPC interceptor's access rules (draining, bearer token, management switch) and its in-flight
count, applied to REST requests: each REST route names the RPC it stands for, and the interceptor's
own check runs on it, so a rule changed there changes for both transports."""

from __future__ import annotations

from ..interceptors import ServerInterceptor

RPC = "/inference.GRPCInferenceService/"


class _Metadata:
    """What the interceptor's check reads of a gRPC context: the `authorization` metadata."""

    __slots__ = ("_items",)

    def __init__(self, authorization: str | None):
        self._items = (("authorization", authorization),) if authorization is not None else ()

    def invocation_metadata(self):
        return self._items


class Access:
    def __init__(self, interceptor: ServerInterceptor):
        self._interceptor = interceptor

    def check(self, rpc: str, authorization: str | None) -> None:
        """Raise the ServingError that refuses a call of `rpc` (e.g. "ModelInfer"), if any."""
        self._interceptor._check(RPC + rpc, _Metadata(authorization))  # noqa: SLF001 - see the module docstring

    def enter(self) -> None:
        self._interceptor._enter()  # noqa: SLF001

    def leave(self) -> None:
        self._interceptor._leave()  # noqa: SLF001
