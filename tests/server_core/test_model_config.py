"""ModelConfig follows Triton's max_batch_size semantics from the model's signature and serving facts."""

from __future__ import annotations

from client.messages import ModelMetadata, TensorSpec
from protos import grpc_predict_v2_pb2 as pb
from server_core.model_config import ServingFacts, model_config, to_proto


def meta(inputs, outputs, platform="pytorch"):
    return ModelMetadata("m", ("1",), platform, tuple(inputs), tuple(outputs))


def test_a_batched_signature_drops_the_batch_dim_and_reports_the_row_limit():
    m = meta([TensorSpec("x", "FP32", (-1, 64)), TensorSpec("ids", "BYTES", (-1, -1))],
             [TensorSpec("y", "FP32", (-1, 10))])
    config = to_proto(model_config(m, ServingFacts(row_limit=32, batch_size=32, max_delay_s=0.002, workers=2)))
    assert config.max_batch_size == 32 and config.platform == "pytorch" and config.backend == "pytorch"
    assert [(t.name, t.data_type, list(t.dims)) for t in config.input] == [("x", pb.TYPE_FP32, [64]),
                                                                           ("ids", pb.TYPE_STRING, [-1])]
    assert list(config.output[0].dims) == [10]
    assert list(config.dynamic_batching.preferred_batch_size) == [32]
    assert config.dynamic_batching.max_queue_delay_microseconds == 2000
    assert config.instance_group[0].count == 2 and config.instance_group[0].kind == pb.ModelInstanceGroup.KIND_MODEL


def test_a_fixed_leading_dim_means_max_batch_size_zero_and_full_dims():
    m = meta([TensorSpec("x", "INT64", (1, 128))], [TensorSpec("y", "FP32", (-1, 768))], "tensorflow_savedmodel")
    config = to_proto(model_config(m, ServingFacts(row_limit=64)))
    assert config.max_batch_size == 0 and config.backend == "tensorflow"
    assert list(config.input[0].dims) == [1, 128] and list(config.output[0].dims) == [-1, 768]
    assert not config.HasField("dynamic_batching")


def test_no_batching_on_a_batched_signature_still_has_max_batch_size():
    m = meta([TensorSpec("x", "FP32", (-1, 4))], [TensorSpec("y", "FP32", (-1, 4))])
    config = to_proto(model_config(m, ServingFacts(row_limit=256, batch_size=1)))
    assert config.max_batch_size == 256 and not config.HasField("dynamic_batching")
