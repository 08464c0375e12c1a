"""What every target kind provides, and the target a comparison names.

A target is `NAME=URL` on the command line; the URL's scheme picks its kind from the registry
(`loadtests.targets`), its query carries the kind's own settings (`?model=...&encoding=...`).
A kind knows four things: the model's signature, when its server can say it (`metadata`);
how to send one request and read the answer (`open` -> Caller); whether the server is alive
(`Caller.live`); and, when the server keeps them, its statistics and model settings
(`statistics`, `model_config`: where the server's time goes). Everything else (inputs, answer
checks, sampling, statistics, the report) is the same for every kind.

Errors: `TargetError` is a problem with a target found before any load (a one-line message naming
the target and what to do); `CallError(code, message)` is one failed call under load, `code` a
stable word (a gRPC status name, `BAD_RESPONSE`) that groups errors in the report.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from client.messages import ModelMetadata
from protos import grpc_predict_v2_pb2 as pb

TOKEN_ENV = "token_env"
TOKEN_ENV_HELP = ("the environment variable that holds a bearer token, sent as `authorization: Bearer <token>` "
                  "(the token itself stays out of URLs and reports)")


def bearer_token(params: Mapping[str, str]) -> str | None:
    """The token named by `?token_env=VAR` (None without one); ValueError when VAR is unset or empty."""
    var = params.get(TOKEN_ENV)
    if var is None:
        return None
    token = os.environ.get(var, "")
    if not token:
        raise ValueError(f"{TOKEN_ENV}={var}: the environment variable {var} is not set (or empty)")
    return token


class TargetError(Exception):
    """A target cannot take part: unreachable, no such model, a payload it refuses, a bad URL."""


class CallError(Exception):
    """One call failed; `code` groups it (a gRPC status name or BAD_RESPONSE), str() says why."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Target:
    """One server a comparison loads. `url` is what the user gave (canonical form); `address`
    HOST:PORT; `params` the URL's query (the kind's own settings); `pid` its process for sampling."""

    name: str
    kind: str
    address: str
    params: Mapping[str, str] = field(default_factory=dict)
    pid: int | None = None
    pid_source: str = ""

    @property
    def url(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.kind}://{self.address}" + (f"?{query}" if query else "")

    def where(self) -> str:
        """`name (url)`, the way every message names a target."""
        return f"{self.name} ({self.url})"


class Caller(Protocol):
    """One connection to a target, used by one Locust user (or one preflight check)."""

    def encode(self, inputs: Mapping[str, np.ndarray]) -> object:
        """The request for these inputs, built once before the load."""

    def call(self, request: object, timeout: float) -> tuple[object, int]:
        """(response, its size in bytes); CallError when the call fails."""

    def decode(self, response: object) -> dict[str, np.ndarray]:
        """The outputs by name; CallError("BAD_RESPONSE", ...) when they cannot be read."""

    def live(self, timeout: float) -> bool:
        """Whether the server answers its liveness check; CallError when it cannot be reached."""

    def close(self) -> None: ...


class Kind(Protocol):
    """A target kind: registered under its URL scheme in `loadtests.targets.KINDS`."""

    scheme: str
    summary: str  # one line for --help
    params: Mapping[str, str]  # query parameter -> what it means (anything else is refused)
    reports_server_time: bool  # may answer OIP ModelStatistics (queue / compute split)

    def check_params(self, params: Mapping[str, str]) -> None:
        """ValueError when a query parameter's value makes no sense."""

    def metadata(self, target: Target, model: str, version: str, timeout: float) -> ModelMetadata | None:
        """The model's signature as the server states it (None when the API cannot say);
        TargetError when the server is unreachable, not ready or lacks the model."""

    def open(self, target: Target, model: str, version: str, meta: ModelMetadata, deadline_s: float) -> Caller:
        """A caller for the model (gRPC channels are made here: after gevent is set up in Locust)."""

    def statistics(self, target: Target, model: str, version: str,
                   timeout: float) -> pb.ModelStatisticsResponse | None:
        """The model's cumulative OIP statistics (`inference.ModelStatisticsResponse`), or None when
        the server or the kind cannot say (see loadtests.run.server_time)."""

    def model_config(self, target: Target, model: str, version: str, timeout: float) -> pb.ModelConfig | None:
        """The model's settings as the server states them (`inference.ModelConfig`), or None."""


class NoServerTime:
    """For kinds whose API keeps no per-model statistics and states no model config (stock TorchServe,
    TF Serving): the report shows client-side latency only."""

    reports_server_time = False

    def statistics(self, target: Target, model: str, version: str, timeout: float) -> None:
        return None

    def model_config(self, target: Target, model: str, version: str, timeout: float) -> None:
        return None
