"""Request builders and response parsers shared by the sync and asyncio clients."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from protos import grpc_predict_v2_pb2 as pb

from . import codec


@dataclass(frozen=True)
class TensorSpec:
    """A tensor of a model's signature: name, OIP datatype, shape (-1 = variable)."""

    name: str
    datatype: str
    shape: tuple[int, ...]

    def __str__(self) -> str:
        return f"{self.name}: {self.datatype} {codec.shape_str(self.shape)}"


@dataclass(frozen=True)
class ModelMetadata:
    name: str
    versions: tuple[str, ...]
    platform: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    properties: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelIndexEntry:
    name: str
    version: str
    state: str
    reason: str


@dataclass(frozen=True)
class StreamResult:
    """One answer of a stream: `outputs` on success, else `error` (the server's message)."""

    outputs: dict[str, np.ndarray] | None
    error: str | None
    id: str = ""
    model_version: str = ""


def set_parameter(target, key: str, value) -> None:
    """Set one InferParameter / ModelRepositoryParameter map entry from a Python value."""
    param = target[key]
    if isinstance(value, bool):
        param.bool_param = value
    elif isinstance(value, int):
        param.int64_param = value
    elif isinstance(value, float):
        param.double_param = value
    elif isinstance(value, bytes) and hasattr(param, "bytes_param"):
        param.bytes_param = value
    elif isinstance(value, str):
        param.string_param = value
    else:
        raise TypeError(f"parameter {key!r}: unsupported type {type(value).__name__}")


def get_parameter(param):
    which = param.WhichOneof("parameter_choice")
    return None if which is None else getattr(param, which)


def infer_request(model: str, inputs: Mapping[str, np.ndarray], *, outputs: Sequence[str] | None = None,
                  version: str | None = None, parameters: Mapping[str, object] | None = None,
                  request_id: str = "", raw: bool = True) -> pb.ModelInferRequest:
    if not isinstance(inputs, Mapping) or not inputs:
        raise TypeError("inputs must be a non-empty mapping of name -> array")
    request = pb.ModelInferRequest(model_name=model, model_version=version or "", id=request_id)
    for key, value in (parameters or {}).items():
        set_parameter(request.parameters, key, value)
    codec.encode_tensors(request.inputs, request.raw_input_contents, inputs, raw=raw)
    for name in outputs or ():
        request.outputs.add(name=name)
    return request


def infer_outputs(response: pb.ModelInferResponse) -> dict[str, np.ndarray]:
    return codec.decode_tensors(response.outputs, response.raw_output_contents, kind="output")


def model_metadata(response: pb.ModelMetadataResponse) -> ModelMetadata:
    def specs(items):
        return tuple(TensorSpec(t.name, t.datatype, tuple(t.shape)) for t in items)

    return ModelMetadata(response.name, tuple(response.versions), response.platform,
                         specs(response.inputs), specs(response.outputs), dict(response.properties))


def server_metadata(response: pb.ServerMetadataResponse) -> dict:
    return {"name": response.name, "version": response.version, "extensions": list(response.extensions)}


def repository_index(response: pb.RepositoryIndexResponse) -> list[ModelIndexEntry]:
    return [ModelIndexEntry(m.name, m.version, m.state, m.reason) for m in response.models]


def repository_request(cls, name: str, parameters: Mapping[str, object] | None):
    request = cls(model_name=name)
    for key, value in (parameters or {}).items():
        set_parameter(request.parameters, key, value)
    return request


def stream_result(response: pb.ModelStreamInferResponse) -> StreamResult:
    if response.error_message:
        return StreamResult(None, response.error_message, response.infer_response.id)
    inner = response.infer_response
    return StreamResult(infer_outputs(inner), None, inner.id, inner.model_version)
