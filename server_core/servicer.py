"""The thin OIP v2 servicer: decode -> call the backend -> encode. No logic, no try/except."""

from __future__ import annotations

from protos import grpc_predict_v2_pb2 as pb
from protos import grpc_predict_v2_pb2_grpc as pb_grpc

from . import convert, model_config
from .backend import Backend
from .streaming import stream_responses


class InferenceServicer(pb_grpc.GRPCInferenceServiceServicer):
    def __init__(self, backend: Backend):
        self.backend = backend

    async def ServerLive(self, request, context):
        return pb.ServerLiveResponse(live=await self.backend.live())

    async def ServerReady(self, request, context):
        return pb.ServerReadyResponse(ready=await self.backend.ready())

    async def ModelReady(self, request, context):
        return pb.ModelReadyResponse(ready=await self.backend.model_ready(request.name, request.version))

    async def ServerMetadata(self, request, context):
        b = self.backend
        return pb.ServerMetadataResponse(name=b.server_name, version=b.server_version, extensions=b.extensions)

    async def ModelMetadata(self, request, context):
        return convert.model_metadata(await self.backend.model_metadata(request.name, request.version))

    async def ModelConfig(self, request, context):
        config = await self.backend.model_config(request.name, request.version)
        return pb.ModelConfigResponse(config=model_config.to_proto(config))

    async def ModelInfer(self, request, context):
        infer_request = convert.infer_request(request, context.time_remaining())
        return convert.infer_response(await self.backend.infer(infer_request))

    async def ModelStreamInfer(self, request_iterator, context):
        async for response in stream_responses(self._infer_one, request_iterator, context.time_remaining()):
            yield response

    async def _infer_one(self, request, time_remaining):
        return convert.infer_response(await self.backend.infer(convert.infer_request(request, time_remaining)))

    async def ModelStatistics(self, request, context):
        return convert.statistics(await self.backend.statistics(request.name, request.version))

    async def RepositoryIndex(self, request, context):
        return convert.repository_index(await self.backend.repository_index(request.ready))

    async def RepositoryModelLoad(self, request, context):
        await self.backend.load_model(request.model_name, convert.repository_parameters(request))
        return pb.RepositoryModelLoadResponse()

    async def RepositoryModelUnload(self, request, context):
        await self.backend.unload_model(request.model_name, convert.repository_parameters(request))
        return pb.RepositoryModelUnloadResponse()
