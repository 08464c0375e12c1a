"""model.yaml: the zoo's exact format parses; every mistake names the field and what was expected."""

from __future__ import annotations

import pytest

from tf_service.config import Batching, ConfigError, ModelConfig, load_model_config, parse_model_config

ZOO_EXAMPLE = """
signature: serving_default          # SignatureDef to call (default serving_default)
tensors:                            # the contract; `key` = the SignatureDef's tensor name when it differs
  inputs:  [{name: x, datatype: FP32, shape: [-1, 64], key: args_0}]
  outputs: [{name: y, datatype: FP32, shape: [-1, 10], key: output_0}]
batching:                           # TF Serving's names
  max_batch_size: 32
  batch_timeout_micros: 2000
  max_enqueued_batches: 64
  num_batch_threads: 1
  allowed_batch_sizes: [8, 16, 32]
properties: {"input_ids.range": "0,1000", "classification_output": "logits"}   # -> ModelMetadata.properties
"""


def test_the_zoo_format_parses_completely():
    c = parse_model_config(ZOO_EXAMPLE)
    assert c.signature == "serving_default"
    assert [(t.name, t.datatype, t.shape, t.key) for t in c.inputs] == [("x", "FP32", (-1, 64), "args_0")]
    assert [(t.name, t.datatype, t.shape, t.key) for t in c.outputs] == [("y", "FP32", (-1, 10), "output_0")]
    assert c.batching == Batching(32, 2000, 64, 1, (8, 16, 32))
    assert c.properties == {"input_ids.range": "0,1000", "classification_output": "logits"}


def test_batching_maps_onto_the_shared_batcher():
    b = parse_model_config(ZOO_EXAMPLE).batching.batcher_config()
    assert (b.max_batch_size, b.max_delay_s, b.max_queue, b.workers) == (32, 0.002, 64 * 32, 1)
    partial = parse_model_config("batching: {max_batch_size: 4}").batching
    cfg = partial.batcher_config()  # unset fields take TF Serving's defaults
    assert (cfg.max_batch_size, cfg.max_delay_s, cfg.max_queue, cfg.workers) == (4, 0.0, 40, 1)
    assert partial.batch_timeout_micros is None  # and stay unset for TF Serving's own file


def test_defaults_without_a_file(tmp_path):
    assert load_model_config(tmp_path) == ModelConfig()
    assert parse_model_config("") == ModelConfig()
    key_only = parse_model_config("tensors: {inputs: [{name: a, datatype: INT64, shape: [-1]}]}")
    assert key_only.inputs[0].key == "a" and key_only.outputs is None


@pytest.mark.parametrize("text, fragments", [
    ("signature: [1]", ["signature", "SignatureDef name"]),
    ("colour: blue", ["unknown key(s) colour", "signature, tensors, batching, properties"]),
    ("tensors: {inputs: [{name: x, datatype: FP33, shape: [1]}]}", ["tensors.inputs[0] (x)", "FP33", "FP32"]),
    ("tensors: {inputs: [{name: x, datatype: FP32, shape: [-2]}]}", ["(x)", "'shape'", ">= -1"]),
    ("tensors: {inputs: [{name: x, datatype: FP32, shape: 3}]}", ["'shape'", "list of integers"]),
    ("tensors: {inputs: [{name: x, datatype: FP32, shape: [1], colour: red}]}", ["unknown field(s) colour"]),
    ("tensors: {inputs: [{name: x, datatype: FP32, shape: [1]}, {name: x, datatype: FP32, shape: [1]}]}",
     ["duplicate name(s): x"]),
    ("tensors: {inputs: []}", ["tensors.inputs", "non-empty list"]),
    ("tensors: {extras: []}", ["tensors", "'inputs' and/or 'outputs'"]),
    ("batching: {max_batch_size: 0}", ["batching.max_batch_size", ">= 1", "0"]),
    ("batching: {max_batch_size: true}", ["batching.max_batch_size", "integer"]),
    ("batching: {batch_timeout_ms: 5}", ["unknown parameter(s) batch_timeout_ms", "batch_timeout_micros"]),
    ("batching: {max_batch_size: 8, allowed_batch_sizes: [4, 2, 8]}", ["allowed_batch_sizes", "increase"]),
    ("batching: {max_batch_size: 8, allowed_batch_sizes: [2, 4]}", ["last size must equal max_batch_size (8)"]),
    ("batching: [1, 2]", ["batching", "mapping"]),
    ("properties: {a: [1]}", ["properties", "scalar"]),
    ("tensors: {inputs: [", ["not valid YAML"]),
    ("- 1\n- 2", ["expected a mapping"]),
])
def test_mistakes_name_the_field(text, fragments):
    with pytest.raises(ConfigError) as info:
        parse_model_config(text, "m/model.yaml")
    message = str(info.value)
    assert message.startswith("m/model.yaml")
    for fragment in fragments:
        assert fragment in message, message


def test_scalar_properties_become_strings():
    c = parse_model_config("properties: {top_k: 5, enabled: true, name: x}")
    assert c.properties == {"top_k": "5", "enabled": "true", "name": "x"}


def test_unreadable_file_is_a_config_error(tmp_path):
    (tmp_path / "model.yaml").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ConfigError, match="cannot read"):
        load_model_config(tmp_path)
