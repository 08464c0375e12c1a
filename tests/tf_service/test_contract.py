"""SignatureDef + model.yaml -> the contract; TF dtypes -> OIP datatypes, unknown dims -> -1."""

from __future__ import annotations

import pytest
from tensorflow.core.protobuf import meta_graph_pb2

from tf_service.config import parse_model_config
from tf_service.contract import ContractError, build_contract

DT_FLOAT, DT_INT64, DT_STRING, DT_COMPLEX64, DT_BFLOAT16 = 1, 9, 7, 8, 14


def sig(inputs: dict, outputs: dict) -> dict:
    s = meta_graph_pb2.SignatureDef(method_name="tensorflow/serving/predict")
    for target, tensors in ((s.inputs, inputs), (s.outputs, outputs)):
        for key, (dtype, shape) in tensors.items():
            info = target[key]
            info.name, info.dtype = f"{key}:0", dtype
            if shape is None:
                info.tensor_shape.unknown_rank = True
            else:
                for d in shape:
                    info.tensor_shape.dim.add(size=d)
    return {"serving_default": s, "__saved_model_init_op": meta_graph_pb2.SignatureDef()}


GENERATED = sig({"args_0": (DT_FLOAT, [-1, 64])}, {"output_0": (DT_FLOAT, [-1, 10]), "output_1": (DT_INT64, [-1])})


def test_own_names_sorted_with_mapped_dtypes_and_variable_dims():
    defs = sig({"b": (DT_STRING, [-1]), "a": (DT_BFLOAT16, [-1, -1, 3])}, {"z": (DT_INT64, [])})
    c = build_contract(defs, parse_model_config(""))
    assert [(t.name, t.datatype, t.shape) for t in c.inputs] == [("a", "BF16", (-1, -1, 3)), ("b", "BYTES", (-1,))]
    assert [(t.name, t.datatype, t.shape) for t in c.outputs] == [("z", "INT64", ())]
    assert c.input_keys == {"a": "a", "b": "b"} and c.signature == "serving_default"


def test_generated_names_are_renamed_by_model_yaml():
    config = parse_model_config("""
tensors:
  inputs:  [{name: x, datatype: FP32, shape: [-1, 64], key: args_0}]
  outputs: [{name: y, datatype: FP32, shape: [-1, 10], key: output_0}]
""")
    c = build_contract(GENERATED, config)
    assert [(t.name, t.datatype, t.shape) for t in c.inputs] == [("x", "FP32", (-1, 64))]
    assert [(t.name, t.datatype, t.shape) for t in c.outputs] == [("y", "FP32", (-1, 10))]  # a subset is fine
    assert c.input_keys == {"x": "args_0"} and c.output_keys == {"y": "output_0"}


def test_contract_may_fix_a_variable_dim():
    defs = sig({"t": (DT_FLOAT, [-1, -1])}, {"o": (DT_FLOAT, [-1])})
    config = parse_model_config("tensors: {inputs: [{name: t, datatype: FP32, shape: [-1, 8]}]}")
    assert build_contract(defs, config).inputs[0].shape == (-1, 8)


@pytest.mark.parametrize("yaml_text, fragments", [
    ("signature: predict", ["no signature 'predict'", "serving_default"]),
    ("tensors: {inputs: [{name: x, datatype: FP32, shape: [-1, 64], key: nope}]}",
     ["'x' maps to signature key 'nope'", "args_0"]),
    ("tensors: {inputs: [{name: x, datatype: INT64, shape: [-1, 64], key: args_0}]}",
     ["input 'x' declares INT64", "'args_0' is FP32"]),
    ("tensors: {inputs: [{name: x, datatype: FP32, shape: [-1, 32], key: args_0}]}",
     ["declares shape [-1, 32]", "has shape [-1, 64]"]),
    ("tensors: {inputs: [{name: x, datatype: FP32, shape: [-1], key: args_0}]}", ["declares shape [-1]"]),
    ("tensors: {outputs: [{name: y, datatype: FP32, shape: [-1, 10], key: output_9}]}", ["output_9", "output_0"]),
])
def test_mismatches_say_what_differs(yaml_text, fragments):
    with pytest.raises(ContractError) as info:
        build_contract(GENERATED, parse_model_config(yaml_text))
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_every_input_must_be_fed():
    defs = sig({"a": (DT_FLOAT, [-1]), "b": (DT_FLOAT, [-1])}, {"o": (DT_FLOAT, [-1])})
    config = parse_model_config("tensors: {inputs: [{name: a, datatype: FP32, shape: [-1]}]}")
    with pytest.raises(ContractError, match="does not list signature input.*b"):
        build_contract(defs, config)


def test_unsupported_dtype_and_unknown_rank():
    with pytest.raises(ContractError, match="DT_COMPLEX64"):
        build_contract(sig({"c": (DT_COMPLEX64, [-1])}, {"o": (DT_FLOAT, [-1])}), parse_model_config(""))
    unknown = sig({"u": (DT_FLOAT, None)}, {"o": (DT_FLOAT, [-1])})
    with pytest.raises(ContractError, match="unknown rank; declare its shape"):
        build_contract(unknown, parse_model_config(""))
    declared = parse_model_config("tensors: {inputs: [{name: u, datatype: FP32, shape: [-1, 3]}]}")
    assert build_contract(unknown, declared).inputs[0].shape == (-1, 3)
