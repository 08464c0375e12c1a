"""protobuf <-> the backend's domain objects, for the servicer."""

from __future__ import annotations

import time

from client import codec, messages
from client.messages import ModelIndexEntry, ModelMetadata
from protos import grpc_predict_v2_pb2 as pb

from .backend import InferRequest, InferResult
from .errors import InvalidArgument
from .stats import Duration, ModelStatsSnapshot


def _parameters(params) -> dict[str, object]:
    return {key: messages.get_parameter(value) for key, value in params.items()}


def infer_request(request: pb.ModelInferRequest, time_remaining: float | None) -> InferRequest:
    if not request.model_name:
        raise InvalidArgument("model_name is empty")
    try:
        inputs = codec.decode_tensors(request.inputs, request.raw_input_contents, kind="input")
    except codec.CodecError as e:
        raise InvalidArgument(str(e)) from None
    if not inputs:
        raise InvalidArgument(f"request for model '{request.model_name}' has no inputs")
    outputs = tuple(o.name for o in request.outputs)
    if len(set(outputs)) != len(outputs):
        raise InvalidArgument("an output is requested more than once")
    deadline = None if time_remaining is None else time.monotonic() + time_remaining
    return InferRequest(model=request.model_name, version=request.model_version, inputs=inputs,
                        outputs=outputs, id=request.id, parameters=_parameters(request.parameters),
                        deadline=deadline)


def infer_response(result: InferResult) -> pb.ModelInferResponse:
    response = pb.ModelInferResponse(model_name=result.model, model_version=result.version, id=result.id)
    for key, value in result.parameters.items():
        messages.set_parameter(response.parameters, key, value)
    codec.encode_tensors(response.outputs, response.raw_output_contents, result.outputs, raw=True)
    return response


def model_metadata(meta: ModelMetadata) -> pb.ModelMetadataResponse:
    response = pb.ModelMetadataResponse(name=meta.name, versions=list(meta.versions), platform=meta.platform)
    for target, specs in ((response.inputs, meta.inputs), (response.outputs, meta.outputs)):
        for s in specs:
            target.add(name=s.name, datatype=s.datatype, shape=list(s.shape))
    response.properties.update(meta.properties)
    return response


def repository_index(entries: list[ModelIndexEntry]) -> pb.RepositoryIndexResponse:
    response = pb.RepositoryIndexResponse()
    for e in entries:
        response.models.add(name=e.name, version=e.version, state=e.state, reason=e.reason)
    return response


def _duration(d: Duration) -> pb.StatisticDuration:
    return pb.StatisticDuration(count=d.count, ns=d.ns)


def statistics(snapshots: list[ModelStatsSnapshot]) -> pb.ModelStatisticsResponse:
    response = pb.ModelStatisticsResponse()
    for s in snapshots:
        stats = response.model_stats.add(name=s.name, version=s.version, last_inference=s.last_inference_ms,
                                         inference_count=s.inference_count, execution_count=s.execution_count)
        i = stats.inference_stats
        for field in ("success", "fail", "queue", "compute_input", "compute_infer", "compute_output"):
            getattr(i, field).CopyFrom(_duration(getattr(s, field)))
        for size in sorted(s.batches):
            b = s.batches[size]
            stats.batch_stats.add(batch_size=size, compute_input=_duration(b.compute_input),
                                  compute_infer=_duration(b.compute_infer),
                                  compute_output=_duration(b.compute_output))
    return response


def repository_parameters(request) -> dict[str, object]:
    return _parameters(request.parameters)
