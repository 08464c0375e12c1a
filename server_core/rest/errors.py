"""gRPC status -> HTTP status, in this one table (Google's mapping of google.rpc.Code to HTTP), and
the JSON error body `{"error": message}` every REST failure answers with."""

from __future__ import annotations

import grpc
from aiohttp import web

from ..errors import PathRedactor, to_status

HTTP_STATUS = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}


def http_status(code: grpc.StatusCode) -> int:
    return HTTP_STATUS.get(code, 500)


def error_response(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def exception_response(exc: BaseException, where: str, redact: PathRedactor | None) -> tuple[grpc.StatusCode,
                                                                                              web.Response]:
    """(gRPC code, JSON error response) for an exception, through the same `errors.to_status` as gRPC."""
    code, message = to_status(exc, where, redact)
    return code, error_response(http_status(code), message)
