"""Blocking client for any OIP v2 gRPC server (Tandem's services, Triton, KServe)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence

import grpc
import numpy as np

from protos import grpc_predict_v2_pb2 as pb
from protos import grpc_predict_v2_pb2_grpc as pb_grpc

from . import messages
from .channel import ChannelSettings, open_channel
from .errors import from_rpc_error


def _typed_errors(method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None
    return wrapper


class InferenceClient:
    """`with InferenceClient("127.0.0.1:7070") as c: c.infer("mlp", {"x": array})`.

    Every call has a deadline (`timeout`, default 30 s, overridable per call); UNAVAILABLE is
    retried by gRPC per the channel's service config; failures raise `client.errors` types.
    """

    def __init__(self, url: str, **settings):
        self.settings = ChannelSettings(url, **settings)
        self._channel = open_channel(self.settings, grpc)
        self._stub = pb_grpc.GRPCInferenceServiceStub(self._channel)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        self._channel.close()

    def _call(self, rpc: str, request, timeout: float | None):
        method = getattr(self._stub, rpc)
        return method(request, timeout=timeout or self.settings.timeout, metadata=self.settings.metadata())

    @_typed_errors
    def is_server_live(self, timeout: float | None = None) -> bool:
        return self._call("ServerLive", pb.ServerLiveRequest(), timeout).live

    @_typed_errors
    def is_server_ready(self, timeout: float | None = None) -> bool:
        return self._call("ServerReady", pb.ServerReadyRequest(), timeout).ready

    @_typed_errors
    def is_model_ready(self, model: str, version: str | None = None, timeout: float | None = None) -> bool:
        request = pb.ModelReadyRequest(name=model, version=version or "")
        return self._call("ModelReady", request, timeout).ready

    @_typed_errors
    def server_metadata(self, timeout: float | None = None) -> dict:
        return messages.server_metadata(self._call("ServerMetadata", pb.ServerMetadataRequest(), timeout))

    @_typed_errors
    def model_metadata(self, model: str, version: str | None = None,
                       timeout: float | None = None) -> messages.ModelMetadata:
        request = pb.ModelMetadataRequest(name=model, version=version or "")
        return messages.model_metadata(self._call("ModelMetadata", request, timeout))

    @_typed_errors
    def infer(self, model: str, inputs: Mapping[str, np.ndarray], outputs: Sequence[str] | None = None,
              version: str | None = None, parameters: Mapping[str, object] | None = None, *,
              request_id: str = "", raw: bool = True, timeout: float | None = None) -> dict[str, np.ndarray]:
        request = messages.infer_request(model, inputs, outputs=outputs, version=version,
                                         parameters=parameters, request_id=request_id, raw=raw)
        return messages.infer_outputs(self._call("ModelInfer", request, timeout))

    def stream_infer(self, model: str, inputs: Iterable[Mapping[str, np.ndarray]], *,
                     version: str | None = None, outputs: Sequence[str] | None = None,
                     timeout: float | None = None) -> Iterable[messages.StreamResult]:
        """Send each inputs mapping on one ModelStreamInfer stream; yield a StreamResult per answer."""
        requests = (messages.infer_request(model, item, outputs=outputs, version=version, request_id=str(i))
                    for i, item in enumerate(inputs))
        stream = self._stub.ModelStreamInfer(requests, timeout=timeout or self.settings.timeout,
                                             metadata=self.settings.metadata())
        try:
            for response in stream:
                yield messages.stream_result(response)
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None

    @_typed_errors
    def repository_index(self, ready_only: bool = False, timeout: float | None = None):
        request = pb.RepositoryIndexRequest(ready=ready_only)
        return messages.repository_index(self._call("RepositoryIndex", request, timeout))

    @_typed_errors
    def load_model(self, model: str, parameters: Mapping[str, object] | None = None,
                   timeout: float | None = None) -> None:
        request = messages.repository_request(pb.RepositoryModelLoadRequest, model, parameters)
        self._call("RepositoryModelLoad", request, timeout)

    @_typed_errors
    def unload_model(self, model: str, parameters: Mapping[str, object] | None = None,
                     timeout: float | None = None) -> None:
        request = messages.repository_request(pb.RepositoryModelUnloadRequest, model, parameters)
        self._call("RepositoryModelUnload", request, timeout)

    @_typed_errors
    def statistics(self, model: str = "", version: str | None = None,
                   timeout: float | None = None) -> pb.ModelStatisticsResponse:
        request = pb.ModelStatisticsRequest(name=model, version=version or "")
        return self._call("ModelStatistics", request, timeout)
