"""What the conformance suite needs from a server under test, and how a test reaches it over each
transport.

Every service provides, in its own model format, the same small model set (see tests/support/echo.py
for the reference): `add_sub` (INPUT0, INPUT1 FP32 [-1, 16] -> OUTPUT0 = a + b + (version - 1),
OUTPUT1 = a - b; versions 1 and 2), identity models per datatype it supports, and optionally `slow`
(>= 0.5 s per request, queue of 2), `faulty` (raises inside the model) and `broken` (fails to load).

A target serves gRPC at `address` and, when it was started with `--http-port`, OIP v2 REST at
`http_address`. The suite runs once per (target, transport): `client()`, `async_client()` and
`call()` give the test the same interface over either (tests/conformance/rest.py for REST).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

GRPC, REST = "grpc", "rest"


@dataclass
class Target:
    name: str
    address: str
    platform: str
    identity: dict[str, str] = field(default_factory=dict)  # datatype -> model name
    slow: str | None = "slow"
    faulty: str | None = "faulty"
    broken: str | None = "broken"
    token: str | None = None
    stop: object = None  # callable that stops the server
    http_address: str | None = None  # host:port of its REST endpoint, when it serves one
    transport: str = GRPC

    def over(self, transport: str) -> Target:
        return dataclasses.replace(self, transport=transport)

    def client(self, *, token: str | None | type = ..., **kw):
        """A sync client (client.InferenceClient or its REST equivalent); `token` defaults to the target's."""
        token = self.token if token is ... else token
        if self.transport == REST:
            from .rest import RestClient

            return RestClient(self.http_address, token=token, **kw)
        from client import InferenceClient

        return InferenceClient(self.address, token=token, **kw)

    def async_client(self, **kw):
        if self.transport == REST:
            from .rest import AsyncRestClient

            return AsyncRestClient(self.http_address, token=self.token, **kw)
        from client import AsyncInferenceClient

        return AsyncInferenceClient(self.address, token=self.token, **kw)

    def call(self, request, rpc: str = "ModelInfer", timeout: float = 10):
        """One raw RPC with a protobuf request (REST: the same request as HTTP); failures raise an
        error with grpc.RpcError's code() and details()."""
        if self.transport == REST:
            from .rest import call

            return call(self.http_address, self.token, request, rpc, timeout)
        import grpc

        from protos import grpc_predict_v2_pb2_grpc as pb_grpc

        with grpc.insecure_channel(self.address) as channel:
            stub = pb_grpc.GRPCInferenceServiceStub(channel)
            return getattr(stub, rpc)(request, timeout=timeout,
                                      metadata=(("authorization", f"Bearer {self.token}"),))


def http_address(service) -> str | None:
    """The REST address a service printed on its READY line (`READY host:port http=host:port`)."""
    for line in service.log_tail(400).splitlines():
        if line.startswith("READY "):
            for word in line.split()[2:]:
                if word.startswith("http="):
                    return word[len("http="):]
    return None
