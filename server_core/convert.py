"""protobuf <-> the backend's domain objects, for the servicer.

Tensors go through `client.codec`, the one codec. ModelInfer's common case (raw contents of
fixed-size datatypes, every dimension >= 1) takes a short path here that builds exactly what the
codec would build (the same read-only views of the message's bytes in, the same bytes out) without
its per-tensor checks, each of which that case passes by construction; anything else, and every
malformed tensor, goes to the codec, whose messages say what is wrong.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from client import codec, datatypes, messages
from client.messages import ModelIndexEntry, ModelMetadata
from protos import grpc_predict_v2_pb2 as pb

from .backend import InferRequest, InferResult
from .errors import InvalidArgument
from .stats import Duration, ModelStatsSnapshot


def _parameters(params) -> dict[str, object]:
    return {key: messages.get_parameter(value) for key, value in params.items()}


# Fixed-size datatypes whose wire dtype is this host's own: raw bytes are the array as they are.
# (BOOL is left to the codec, which checks each byte is 0 or 1; BYTES has no fixed size.)
_LITTLE_ENDIAN = sys.byteorder == "little"
_RAW_DTYPES = {name: d.dtype for name, d in datatypes.DATATYPES.items()
               if _LITTLE_ENDIAN and d.dtype is not None and name not in ("BOOL", "BYTES")}
_WIRE_NAMES = {dtype: name for name, dtype in _RAW_DTYPES.items()}
_WIRE_NAMES.update({np.dtype(d.dtype).newbyteorder("="): d.name for d in datatypes.DATATYPES.values()
                    if _LITTLE_ENDIAN and d.dtype is not None and d.name != "BYTES"})


def _raw_inputs(request: pb.ModelInferRequest) -> dict[str, np.ndarray] | None:
    """The inputs when every one is in the common case (see the module docstring), else None."""
    tensors, raw = request.inputs, request.raw_input_contents
    if not raw or len(raw) != len(tensors):
        return None
    out: dict[str, np.ndarray] = {}
    for msg, data in zip(tensors, raw):
        dtype = _RAW_DTYPES.get(msg.datatype)
        name = msg.name
        if dtype is None or not name or name in out or msg.HasField("contents"):
            return None
        shape = tuple(msg.shape)
        size = dtype.itemsize
        for d in shape:
            if d < 1:
                return None
            size *= d
        if size != len(data) or len(shape) > codec.MAX_DIMS:
            return None
        out[name] = np.frombuffer(data, dtype).reshape(shape)
    return out


def infer_request(request: pb.ModelInferRequest, time_remaining: float | None) -> InferRequest:
    if not request.model_name:
        raise InvalidArgument("model_name is empty")
    inputs = _raw_inputs(request)
    if inputs is None:
        try:
            inputs = codec.decode_tensors(request.inputs, request.raw_input_contents, kind="input")
        except codec.CodecError as e:
            raise InvalidArgument(str(e)) from None
    if not inputs:
        raise InvalidArgument(f"request for model '{request.model_name}' has no inputs")
    outputs = tuple(o.name for o in request.outputs) if request.outputs else ()
    if len(set(outputs)) != len(outputs):
        raise InvalidArgument("an output is requested more than once")
    deadline = None if time_remaining is None else time.monotonic() + time_remaining
    return InferRequest(model=request.model_name, version=request.model_version, inputs=inputs,
                        outputs=outputs, id=request.id,
                        parameters=_parameters(request.parameters) if request.parameters else {},
                        deadline=deadline)


def infer_response(result: InferResult) -> pb.ModelInferResponse:
    response = pb.ModelInferResponse(model_name=result.model, model_version=result.version, id=result.id)
    for key, value in result.parameters.items():
        messages.set_parameter(response.parameters, key, value)
    tensors, raw = response.outputs, response.raw_output_contents
    for name, value in result.outputs.items():
        datatype = _WIRE_NAMES.get(value.dtype) if type(value) is np.ndarray else None
        if datatype is None:
            codec.encode_tensors(tensors, raw, {name: value}, raw=True)
        else:  # tobytes() is C order whatever the layout, as the codec's contiguous copy
            tensors.add(name=name, datatype=datatype, shape=value.shape)
            raw.append(value.tobytes())
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
