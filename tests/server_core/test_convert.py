"""The servicer's conversions: ModelInfer's short path builds exactly what the codec builds, and
everything it does not take (malformed tensors included) reaches the codec and its messages."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from client import codec
from client.datatypes import DATATYPES
from protos import grpc_predict_v2_pb2 as pb
from server_core import convert
from server_core.backend import InferResult
from server_core.errors import InvalidArgument

NUMERIC = [d for d in DATATYPES if d != "BYTES"]


def _array(datatype: str, shape) -> np.ndarray:
    dtype = DATATYPES[datatype].dtype.newbyteorder("=")
    count = int(np.prod(shape))
    values = np.arange(count) % 2 if datatype == "BOOL" else np.arange(count) % 100
    return values.astype(dtype).reshape(shape)


def _codec_response(outputs) -> pb.ModelInferResponse:
    response = pb.ModelInferResponse(model_name="m", model_version="1", id="r")
    codec.encode_tensors(response.outputs, response.raw_output_contents, outputs, raw=True)
    return response


def _wire_request(arrays, raw=True) -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name="m")
    codec.encode_tensors(request.inputs, request.raw_input_contents, arrays, raw=raw)
    return pb.ModelInferRequest.FromString(request.SerializeToString())


@pytest.mark.parametrize("datatype", NUMERIC)
@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (0, 4), (1, 1, 5)])
def test_responses_are_the_codecs_byte_for_byte(datatype, shape):
    array = _array(datatype, shape)
    outputs = {"a": array, "b": np.asfortranarray(_array(datatype, (2, 3))),  # not C-contiguous
               "c": _array(datatype, (4, 6))[::2, 1::2]}  # a strided view
    if datatype not in ("BOOL", "INT8", "UINT8", "BF16"):
        outputs["d"] = array.astype(array.dtype.newbyteorder(">"))  # another byte order
    fast = convert.infer_response(InferResult("m", "1", outputs, "r"))
    assert fast.SerializeToString() == _codec_response(outputs).SerializeToString()


def test_responses_with_bytes_and_scalars_are_the_codecs():
    outputs = {"s": np.array([b"a", b"bc"], dtype=object), "u": np.array(["x", "yz"]), "f": np.float32(2.5),
               "l": [1.0, 2.0]}
    expected = _codec_response({k: np.asarray(v) if k != "s" else v for k, v in outputs.items()})
    assert convert.infer_response(InferResult("m", "1", outputs, "r")).SerializeToString() == \
        expected.SerializeToString()


@pytest.mark.parametrize("datatype", NUMERIC)
@pytest.mark.parametrize("shape", [(3,), (2, 3), (0, 4), ()])
def test_decoded_inputs_are_the_codecs(datatype, shape):
    wire = _wire_request({"x": _array(datatype, shape), "y": _array(datatype, (1, 2))})
    decoded = convert.infer_request(wire, None).inputs
    expected = codec.decode_tensors(wire.inputs, wire.raw_input_contents)
    assert list(decoded) == list(expected)
    for name, array in expected.items():
        assert decoded[name].dtype == array.dtype and decoded[name].shape == array.shape
        np.testing.assert_array_equal(decoded[name], array)
        assert not decoded[name].flags.writeable  # views of the message, as the codec's


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(dtype=st.sampled_from([np.float32, np.int64, np.uint8, np.float16]),
                  shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5)))
def test_any_numeric_tensor_decodes_as_the_codec_decodes(array):
    wire = _wire_request({"x": array})
    np.testing.assert_array_equal(convert.infer_request(wire, None).inputs["x"],
                                  codec.decode_tensors(wire.inputs, wire.raw_input_contents)["x"])


def _codec_message(request) -> str:
    try:
        codec.decode_tensors(request.inputs, request.raw_input_contents, kind="input")
    except codec.CodecError as e:
        return str(e)
    raise AssertionError("the codec accepted it")


def _malformed():
    def request(*tensors, raw=()):
        r = pb.ModelInferRequest(model_name="m")
        for name, datatype, shape in tensors:
            r.inputs.add(name=name, datatype=datatype, shape=shape)
        r.raw_input_contents.extend(raw)
        return r

    four = b"\0" * 4
    typed = request(("x", "FP32", [1]), raw=[four])
    typed.inputs[0].contents.fp32_contents.append(1.0)
    yield "too few bytes", request(("x", "FP32", [2]), raw=[four])
    yield "too many bytes", request(("x", "FP32", [1]), raw=[four * 2])
    yield "negative dim", request(("x", "FP32", [-1]), raw=[four])
    yield "absurd dims", request(("x", "FP32", [0, 2**40, 2**40]), raw=[b""])
    yield "unknown datatype", request(("x", "FP33", [1]), raw=[four])
    yield "no name", request(("", "FP32", [1]), raw=[four])
    yield "twice", request(("x", "FP32", [1]), ("x", "FP32", [1]), raw=[four, four])
    yield "raw count", request(("x", "FP32", [1]), ("y", "FP32", [1]), raw=[four])
    yield "bool bytes", request(("x", "BOOL", [2]), raw=[b"\x02\x00"])
    yield "typed and raw", typed


@pytest.mark.parametrize("what, request_", list(_malformed()), ids=[w for w, _ in _malformed()])
def test_malformed_inputs_get_the_codecs_message(what, request_):
    with pytest.raises(InvalidArgument) as e:
        convert.infer_request(request_, None)
    assert e.value.message == _codec_message(request_)


def test_requested_outputs_and_parameters_pass_through():
    wire = _wire_request({"x": _array("FP32", (1, 2))})
    wire.outputs.add(name="b")
    wire.outputs.add(name="a")
    wire.parameters["priority"].int64_param = 3
    request = convert.infer_request(wire, 5.0)
    assert request.outputs == ("b", "a") and request.parameters == {"priority": 3}
    assert request.deadline is not None
    wire.outputs.add(name="a")
    with pytest.raises(InvalidArgument, match="more than once"):
        convert.infer_request(wire, None)
