"""Triton's ModelConfig for a loaded model, built from the same facts as ModelMetadata (its signature
and platform) plus how it is served (batching, workers): the one function both transports use.

Triton's semantics, which tools such as perf_analyzer rely on:
- `max_batch_size > 0`: every input and output has an implicit leading batch dimension, left out of
  `dims`; a request may hold up to max_batch_size rows. Tandem reports this when every input and
  output of the signature has a variable first dimension (`-1`); the value is the model's row limit
  (its max_batch_size when it batches, else its max_request_rows).
- `max_batch_size == 0`: no implicit batch dimension; `dims` is the full declared shape.
- `dynamic_batching` is present only when the model batches requests together (max_batch_size > 1),
  with the batch size as the preferred size and its max delay in microseconds.
- `instance_group`: one group, `KIND_MODEL` (placement is the framework's / the model config's),
  `count` = the executions that may run at once (workers).
"""

from __future__ import annotations

from dataclasses import dataclass

from client.messages import ModelMetadata, TensorSpec

# OIP v2 datatype -> Triton's DataType enum name (BYTES is TYPE_STRING in Triton's model config)
_TYPE_NAMES = {"BYTES": "TYPE_STRING"}
# ModelMetadata's platform -> Triton's backend name
BACKENDS = {"pytorch": "pytorch", "pytorch_libtorch": "pytorch", "tensorflow_savedmodel": "tensorflow"}


@dataclass(frozen=True)
class ServingFacts:
    """How a model version is served, beyond its signature."""

    row_limit: int  # the most rows one request may hold (on a batched signature)
    batch_size: int = 1  # rows per execution when the server batches requests; <= 1 = no batching
    max_delay_s: float = 0.0
    workers: int = 1


@dataclass(frozen=True)
class ConfigTensor:
    name: str
    data_type: str  # Triton's DataType enum name, e.g. TYPE_FP32
    dims: tuple[int, ...]


@dataclass(frozen=True)
class ModelConfig:
    name: str
    platform: str
    backend: str
    max_batch_size: int
    inputs: tuple[ConfigTensor, ...]
    outputs: tuple[ConfigTensor, ...]
    preferred_batch_size: int | None  # None = no dynamic batching
    max_queue_delay_us: int
    instance_count: int


def data_type(datatype: str) -> str:
    return _TYPE_NAMES.get(datatype, f"TYPE_{datatype}")


def _batched(specs: tuple[TensorSpec, ...]) -> bool:
    return bool(specs) and all(len(s.shape) >= 1 and s.shape[0] == -1 for s in specs)


def model_config(meta: ModelMetadata, facts: ServingFacts) -> ModelConfig:
    """The ModelConfig of one model version (see the module docstring for the rules)."""
    batched = _batched(meta.inputs + meta.outputs)
    skip = 1 if batched else 0

    def tensors(specs):
        return tuple(ConfigTensor(s.name, data_type(s.datatype), tuple(s.shape[skip:])) for s in specs)

    batching = facts.batch_size > 1
    return ModelConfig(
        name=meta.name, platform=meta.platform, backend=BACKENDS.get(meta.platform, ""),
        max_batch_size=facts.row_limit if batched else 0,
        inputs=tensors(meta.inputs), outputs=tensors(meta.outputs),
        preferred_batch_size=facts.batch_size if batching and batched else None,
        max_queue_delay_us=int(round(facts.max_delay_s * 1e6)) if batching else 0,
        instance_count=facts.workers)


def to_proto(config: ModelConfig):
    """The `inference.ModelConfig` message."""
    from protos import grpc_predict_v2_pb2 as pb

    msg = pb.ModelConfig(name=config.name, platform=config.platform, backend=config.backend,
                         max_batch_size=config.max_batch_size)
    for target, tensors in ((msg.input, config.inputs), (msg.output, config.outputs)):
        for t in tensors:
            target.add(name=t.name, data_type=pb.DataType.Value(t.data_type), dims=list(t.dims))
    if config.preferred_batch_size is not None:
        msg.dynamic_batching.preferred_batch_size.append(config.preferred_batch_size)
        msg.dynamic_batching.max_queue_delay_microseconds = config.max_queue_delay_us
    msg.instance_group.add(name=config.name, kind=pb.ModelInstanceGroup.KIND_MODEL, count=config.instance_count)
    return msg


def to_json(config: ModelConfig) -> dict:
    """Triton's REST form (`GET /v2/models/{m}/config`): the message as JSON, proto field names."""
    from google.protobuf import json_format

    return json_format.MessageToDict(to_proto(config), preserving_proto_field_name=True)


def serving_facts(model) -> ServingFacts:
    """The ServingFacts of a loaded `server_core.model.ServedModel`."""
    contract, batching = model.contract, model.batcher.config
    limit = contract.max_rows
    if contract.max_batch_size is not None:
        limit = min(limit, contract.max_batch_size)
    return ServingFacts(row_limit=limit, batch_size=batching.max_batch_size, max_delay_s=batching.max_delay_s,
                        workers=batching.workers)
