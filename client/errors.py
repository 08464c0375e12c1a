"""Typed client exceptions carrying the gRPC status code and the server's message."""

from __future__ import annotations

import grpc


class InferenceError(Exception):
    """A call to an inference server failed. `code` is the grpc.StatusCode, `message` the server's text."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message


class InvalidArgumentError(InferenceError):
    """The request was malformed or does not match the model's signature."""


class NotFoundError(InferenceError):
    """The model or version does not exist."""


class UnavailableError(InferenceError):
    """The server, the model or its backend is not ready (retried before being raised)."""


class ResourceExhaustedError(InferenceError):
    """The server's queue is full or a message is too large."""


class DeadlineExceededError(InferenceError):
    """The call did not finish within its deadline."""


class UnauthenticatedError(InferenceError):
    """Missing or wrong bearer token."""


class PermissionDeniedError(InferenceError):
    """The server refuses the operation (e.g. model management is switched off)."""


class ServerError(InferenceError):
    """INTERNAL, UNKNOWN or any other status: the server failed."""


_BY_CODE = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
}


def from_rpc_error(error: grpc.RpcError) -> InferenceError:
    """The typed exception for a failed RPC (works for sync and asyncio errors)."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    details = error.details() if hasattr(error, "details") else str(error)
    return _BY_CODE.get(code, ServerError)(code, details or code.name)
