"""The one error type of the servers, and how any exception becomes a status + safe message."""

from __future__ import annotations

import logging
import uuid

import grpc

log = logging.getLogger("tandem.errors")


class ServingError(Exception):
    """An error a caller may see: carries its gRPC status code and a message safe to show."""

    code = grpc.StatusCode.INTERNAL

    def __init__(self, message: str, code: grpc.StatusCode | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidArgument(ServingError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(ServingError):
    code = grpc.StatusCode.NOT_FOUND


class Unavailable(ServingError):
    code = grpc.StatusCode.UNAVAILABLE


class ResourceExhausted(ServingError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class DeadlineExceeded(ServingError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class Unauthenticated(ServingError):
    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(ServingError):
    code = grpc.StatusCode.PERMISSION_DENIED


class FailedPrecondition(ServingError):
    code = grpc.StatusCode.FAILED_PRECONDITION


def to_status(exc: BaseException, where: str = "") -> tuple[grpc.StatusCode, str]:
    """(status, message) for an exception: ServingErrors as they are, anything else INTERNAL with a
    generic message and a reference; the detail goes to the log only."""
    if isinstance(exc, ServingError):
        return exc.code, exc.message
    ref = uuid.uuid4().hex[:12]
    log.error("unexpected error in %s (ref %s)", where or "request", ref, exc_info=exc)
    return grpc.StatusCode.INTERNAL, f"internal server error (ref {ref}; details are in the server log)"
