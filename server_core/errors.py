"""The one error type of the servers, and how any exception becomes a status + safe message.

Messages never show the server's file system: `PathRedactor` turns every configured folder (the
model store, the work directory) into a relative name before any text leaves the server.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterable
from pathlib import Path

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


class PathRedactor:
    """Removes the server's folders from text shown to callers: `ROOT/a/b` -> `a/b`, `ROOT` -> `<name>`,
    for each (folder, name) given, as written and as resolved (symlinks followed)."""

    def __init__(self, folders: Iterable[tuple[Path | str, str]] = ()):
        pairs: dict[str, str] = {}
        for folder, name in folders:
            for form in {str(folder), os.path.realpath(folder), os.path.abspath(folder)}:
                if form and form != os.sep:
                    pairs.setdefault(form.rstrip(os.sep), name)
        self._pairs = sorted(pairs.items(), key=lambda p: -len(p[0]))  # the longest (innermost) first

    def __bool__(self) -> bool:
        return bool(self._pairs)

    def __call__(self, text: str) -> str:
        for folder, name in self._pairs:
            if folder in text:
                text = text.replace(folder + os.sep, "").replace(folder, f"<{name}>")
        return text


def to_status(exc: BaseException, where: str = "",
              redact: PathRedactor | None = None) -> tuple[grpc.StatusCode, str]:
    """(status, message) for an exception: ServingErrors as they are (less the server's folders),
    anything else INTERNAL with a generic message and a reference; the detail goes to the log only."""
    if isinstance(exc, ServingError):
        return exc.code, redact(exc.message) if redact else exc.message
    ref = uuid.uuid4().hex[:12]
    log.error("unexpected error in %s (ref %s)", where or "request", ref, exc_info=exc)
    return grpc.StatusCode.INTERNAL, f"internal server error (ref {ref}; details are in the server log)"
