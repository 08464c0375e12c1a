"""TF Serving's config files, built from its protobuf messages and written with `text_format`:
the model config (`--model_config_file`, a ModelServerConfig) and batching parameters
(`--batching_parameters_file`, and per model `batching_params.pbtxt` in each SavedModel folder,
read with `--enable_per_model_batching_parameters`).

`tensorflow-serving-api` ships ModelServerConfig but not BatchingParameters (it lives in TF
Serving's servables package), so that one message is declared here from TF Serving's
session_bundle_config.proto — same package, names and field numbers — in a private descriptor pool.
The docker-compose tests compare their files against `model_server_config` / `batching_parameters`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format, wrappers_pb2

from .config import Batching

PER_MODEL_BATCHING_FILE = "batching_params.pbtxt"
PLATFORM = "tensorflow"
_INT64 = descriptor_pb2.FieldDescriptorProto.TYPE_INT64
_BOOL = descriptor_pb2.FieldDescriptorProto.TYPE_BOOL
_MESSAGE = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE
_OPTIONAL = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
_REPEATED = descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
# tensorflow_serving/servables/tensorflow/session_bundle_config.proto, message BatchingParameters
_BATCHING_FIELDS = (
    ("max_batch_size", 1, _MESSAGE, ".google.protobuf.Int64Value", _OPTIONAL),
    ("batch_timeout_micros", 2, _MESSAGE, ".google.protobuf.Int64Value", _OPTIONAL),
    ("max_enqueued_batches", 3, _MESSAGE, ".google.protobuf.Int64Value", _OPTIONAL),
    ("num_batch_threads", 4, _MESSAGE, ".google.protobuf.Int64Value", _OPTIONAL),
    ("thread_pool_name", 5, _MESSAGE, ".google.protobuf.StringValue", _OPTIONAL),
    ("allowed_batch_sizes", 6, _INT64, None, _REPEATED),
    ("pad_variable_length_inputs", 7, _BOOL, None, _OPTIONAL),
)


@functools.cache
def batching_parameters_class():
    """The BatchingParameters message class (tensorflow.serving.BatchingParameters)."""
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
    file = descriptor_pb2.FileDescriptorProto(
        name="tensorflow_serving/servables/tensorflow/session_bundle_config.proto",
        package="tensorflow.serving", syntax="proto3", dependency=["google/protobuf/wrappers.proto"])
    message = file.message_type.add(name="BatchingParameters")
    for name, number, kind, type_name, label in _BATCHING_FIELDS:
        field = message.field.add(name=name, number=number, type=kind, label=label)
        if type_name:
            field.type_name = type_name
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("tensorflow.serving.BatchingParameters"))


def batching_parameters(batching: Batching | None = None, *, num_batch_threads: int | None = None):
    """A BatchingParameters message with exactly the fields that were set."""
    params = batching_parameters_class()()
    if batching is not None:
        for name in ("max_batch_size", "batch_timeout_micros", "max_enqueued_batches", "num_batch_threads"):
            value = getattr(batching, name)
            if value is not None:
                getattr(params, name).value = value
        params.allowed_batch_sizes.extend(batching.allowed_batch_sizes)
        params.pad_variable_length_inputs = batching.pad_variable_length_inputs
    if num_batch_threads is not None:
        params.num_batch_threads.value = num_batch_threads
    return params


def model_server_config(base_paths: Mapping[str, str]):
    """ModelServerConfig serving every version of each model (name -> base path as TF Serving sees it)."""
    from tensorflow_serving.config import model_server_config_pb2  # noqa: PLC0415 - TF Serving's protos

    config = model_server_config_pb2.ModelServerConfig()
    models = config.model_config_list
    models.SetInParent()  # an empty list is still a model_config_list (TF Serving accepts it)
    for name in sorted(base_paths):
        entry = models.config.add(name=name, base_path=str(base_paths[name]), model_platform=PLATFORM)
        entry.model_version_policy.all.SetInParent()
    return config


def to_text(message) -> str:
    return text_format.MessageToString(message)


def write_text(path: Path, message) -> Path:
    """Write a text proto atomically (TF Serving may be reading the old one)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(to_text(message))
    tmp.replace(path)
    return path
