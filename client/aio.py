"""asyncio client for any OIP v2 gRPC server; the same API as InferenceClient, awaited."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence

import grpc
import numpy as np

from protos import grpc_predict_v2_pb2 as pb
from protos import grpc_predict_v2_pb2_grpc as pb_grpc

from . import messages
from .channel import ChannelSettings, open_channel
from .errors import from_rpc_error


def _typed_errors(method):
    @functools.wraps(method)
    async def wrapper(*args, **kwargs):
        try:
            return await method(*args, **kwargs)
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None
    return wrapper


class AsyncInferenceClient:
    """`async with AsyncInferenceClient("127.0.0.1:7070") as c: await c.infer(...)`."""

    def __init__(self, url: str, **settings):
        self.settings = ChannelSettings(url, **settings)
        self._channel = open_channel(self.settings, grpc.aio)
        self._stub = pb_grpc.GRPCInferenceServiceStub(self._channel)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

    async def close(self) -> None:
        await self._channel.close()

    async def _call(self, rpc: str, request, timeout: float | None):
        method = getattr(self._stub, rpc)
        return await method(request, timeout=timeout or self.settings.timeout,
                            metadata=self.settings.metadata())

    @_typed_errors
    async def is_server_live(self, timeout: float | None = None) -> bool:
        return (await self._call("ServerLive", pb.ServerLiveRequest(), timeout)).live

    @_typed_errors
    async def is_server_ready(self, timeout: float | None = None) -> bool:
        return (await self._call("ServerReady", pb.ServerReadyRequest(), timeout)).ready

    @_typed_errors
    async def is_model_ready(self, model: str, version: str | None = None, timeout: float | None = None) -> bool:
        request = pb.ModelReadyRequest(name=model, version=version or "")
        return (await self._call("ModelReady", request, timeout)).ready

    @_typed_errors
    async def server_metadata(self, timeout: float | None = None) -> dict:
        return messages.server_metadata(await self._call("ServerMetadata", pb.ServerMetadataRequest(), timeout))

    @_typed_errors
    async def model_metadata(self, model: str, version: str | None = None,
                             timeout: float | None = None) -> messages.ModelMetadata:
        request = pb.ModelMetadataRequest(name=model, version=version or "")
        return messages.model_metadata(await self._call("ModelMetadata", request, timeout))

    @_typed_errors
    async def infer(self, model: str, inputs: Mapping[str, np.ndarray], outputs: Sequence[str] | None = None,
                    version: str | None = None, parameters: Mapping[str, object] | None = None, *,
                    request_id: str = "", raw: bool = True,
                    timeout: float | None = None) -> dict[str, np.ndarray]:
        request = messages.infer_request(model, inputs, outputs=outputs, version=version,
                                         parameters=parameters, request_id=request_id, raw=raw)
        return messages.infer_outputs(await self._call("ModelInfer", request, timeout))

    async def stream_infer(self, model: str, inputs: Iterable[Mapping[str, np.ndarray]], *,
                           version: str | None = None, outputs: Sequence[str] | None = None,
                           timeout: float | None = None) -> AsyncIterator[messages.StreamResult]:
        requests = [messages.infer_request(model, item, outputs=outputs, version=version, request_id=str(i))
                    for i, item in enumerate(inputs)]
        call = self._stub.ModelStreamInfer(iter(requests), timeout=timeout or self.settings.timeout,
                                           metadata=self.settings.metadata())
        try:
            async for response in call:
                yield messages.stream_result(response)
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None

    @_typed_errors
    async def repository_index(self, ready_only: bool = False, timeout: float | None = None):
        request = pb.RepositoryIndexRequest(ready=ready_only)
        return messages.repository_index(await self._call("RepositoryIndex", request, timeout))

    @_typed_errors
    async def load_model(self, model: str, parameters: Mapping[str, object] | None = None,
                         timeout: float | None = None) -> None:
        request = messages.repository_request(pb.RepositoryModelLoadRequest, model, parameters)
        await self._call("RepositoryModelLoad", request, timeout)

    @_typed_errors
    async def unload_model(self, model: str, parameters: Mapping[str, object] | None = None,
                           timeout: float | None = None) -> None:
        request = messages.repository_request(pb.RepositoryModelUnloadRequest, model, parameters)
        await self._call("RepositoryModelUnload", request, timeout)

    @_typed_errors
    async def statistics(self, model: str = "", version: str | None = None,
                         timeout: float | None = None) -> pb.ModelStatisticsResponse:
        request = pb.ModelStatisticsRequest(name=model, version=version or "")
        return await self._call("ModelStatistics", request, timeout)
