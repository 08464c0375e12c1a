"""The tensor codec: every datatype both ways, raw and typed, and every validation message."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from client import codec
from client.datatypes import DATATYPES, datatype_of
from protos import grpc_predict_v2_pb2 as pb

NUMERIC = [d for d in DATATYPES if d not in ("BYTES",)]


def roundtrip(arrays, raw=True):
    request = pb.ModelInferRequest()
    codec.encode_tensors(request.inputs, request.raw_input_contents, arrays, raw=raw)
    wire = pb.ModelInferRequest.FromString(request.SerializeToString())
    return codec.decode_tensors(wire.inputs, wire.raw_input_contents)


def decode_one(datatype, shape, raw=None, **contents):
    request = pb.ModelInferRequest()
    t = request.inputs.add(name="x", datatype=datatype, shape=shape)
    for field, values in contents.items():
        getattr(t.contents, field).extend(values)
    if raw is not None:
        request.raw_input_contents.append(raw)
    return codec.decode_tensors(request.inputs, request.raw_input_contents)["x"]


@pytest.mark.parametrize("datatype", NUMERIC)
@pytest.mark.parametrize("raw", [True, False])
def test_numeric_roundtrip(datatype, raw):
    dtype = DATATYPES[datatype].dtype.newbyteorder("=")
    data = (np.arange(12) % 2).astype(dtype).reshape(3, 4) if datatype == "BOOL" else \
        np.arange(12).astype(dtype).reshape(3, 4)
    if not raw and DATATYPES[datatype].contents_field is None:
        with pytest.raises(codec.CodecError, match="raw"):
            roundtrip({"x": data}, raw=False)
        return
    out = roundtrip({"x": data}, raw=raw)["x"]
    assert out.dtype == data.dtype and out.shape == data.shape
    np.testing.assert_array_equal(out, data)


def test_raw_decode_is_a_view_of_the_message_bytes():
    raw = np.arange(6, dtype=np.float32).tobytes()
    out = decode_one("FP32", [2, 3], raw=raw)
    assert not out.flags.owndata and not out.flags.writeable  # no copy was made


def test_bytes_roundtrip_and_strings_become_utf8():
    data = np.array([["a", "\u00e9"], ["", "xyz"]], dtype=object)
    for raw in (True, False):
        out = roundtrip({"s": data}, raw=raw)["s"]
        assert out.tolist() == [[b"a", "\u00e9".encode()], [b"", b"xyz"]]
    assert roundtrip({"u": np.array(["hi", "there"])})["u"].tolist() == [b"hi", b"there"]


def test_encode_does_not_mutate_and_handles_noncontiguous_and_big_endian():
    base = np.arange(24, dtype=">f4").reshape(4, 6)
    view = base[:, ::2]
    before = view.copy()
    out = roundtrip({"x": view})["x"]
    np.testing.assert_array_equal(out, before)
    np.testing.assert_array_equal(view, before)
    assert out.dtype == np.float32


def test_datatype_of():
    assert datatype_of(np.zeros(1, np.int16)) == "INT16"
    assert datatype_of(np.array([b"x"], dtype=object)) == "BYTES"
    with pytest.raises(TypeError):
        datatype_of(np.zeros(1, np.complex64))


@pytest.mark.parametrize("kwargs, message", [
    (dict(datatype="FP32", shape=[2, 2], raw=b"\0" * 15), "raw contents hold 15 bytes, expected 16"),
    (dict(datatype="FP32", shape=[2, 2], fp32_contents=[1.0] * 3), "expected 4 values in contents.fp32_contents"),
    (dict(datatype="FP32", shape=[1], int64_contents=[1]),
     "expects contents.fp32_contents, got contents.int64_contents"),
    (dict(datatype="FP99", shape=[1], raw=b"\0"), "unknown datatype 'FP99'"),
    (dict(datatype="FP32", shape=[-1, 2], raw=b""), "negative dimension"),
    (dict(datatype="FP32", shape=[2**41], raw=b""), "absurd dimension"),
    (dict(datatype="FP32", shape=[1] * 33, raw=b"\0" * 4), "33 dimensions"),
    (dict(datatype="FP16", shape=[1], fp32_contents=[1.0]), "must be sent as raw contents"),
    (dict(datatype="INT8", shape=[2], int_contents=[1, 300]), "outside the INT8 range"),
    (dict(datatype="UINT16", shape=[1], uint_contents=[70000]), "outside the UINT16 range"),
    (dict(datatype="BOOL", shape=[2], raw=b"\x01\x02"), "only 0 or 1"),
    (dict(datatype="BYTES", shape=[2], raw=b"\x01\x00\x00\x00a\x05\x00\x00\x00ab"), "element 1 claims 5 bytes"),
    (dict(datatype="BYTES", shape=[2], raw=b"\x01\x00\x00\x00a\x00\x00"), "too few"),
    (dict(datatype="BYTES", shape=[1], raw=b"\x01\x00\x00\x00ab"), "1 trailing bytes"),
    (dict(datatype="BYTES", shape=[2**40], raw=b"\x00" * 8), "too few for"),
])
def test_validation_messages(kwargs, message):
    with pytest.raises(codec.CodecError, match=None) as info:
        decode_one(**kwargs)
    assert message in str(info.value)
    assert "input 'x'" in str(info.value)


def test_request_level_validation():
    request = pb.ModelInferRequest()
    request.inputs.add(name="a", datatype="FP32", shape=[0])
    request.inputs.add(name="a", datatype="FP32", shape=[0])
    with pytest.raises(codec.CodecError, match="more than once"):
        codec.decode_tensors(request.inputs, [])
    request = pb.ModelInferRequest()
    a = request.inputs.add(name="a", datatype="FP32", shape=[1])
    request.inputs.add(name="b", datatype="FP32", shape=[1])
    request.raw_input_contents.append(b"\0" * 4)
    with pytest.raises(codec.CodecError, match="2 inputs but 1 raw_input_contents"):
        codec.decode_tensors(request.inputs, request.raw_input_contents)
    request.raw_input_contents.append(b"\0" * 4)
    a.contents.fp32_contents.append(1.0)
    with pytest.raises(codec.CodecError, match="one or the other"):
        codec.decode_tensors(request.inputs, request.raw_input_contents)
    request = pb.ModelInferRequest()
    request.inputs.add(name="", datatype="FP32", shape=[0])
    with pytest.raises(codec.CodecError, match="no name"):
        codec.decode_tensors(request.inputs, [])


# ------------------------------------------------------------------ property-based

_dtypes = st.sampled_from([d for d in NUMERIC if d not in ("BF16",)])


@st.composite
def arrays(draw):
    datatype = draw(_dtypes)
    dtype = DATATYPES[datatype].dtype.newbyteorder("=")
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5))
    return draw(hnp.arrays(dtype, shape))


@settings(max_examples=150, deadline=None)
@given(data=arrays(), raw=st.booleans())
def test_any_array_roundtrips_bit_exactly(data, raw):
    if not raw and DATATYPES[datatype_of(data)].contents_field is None:
        return
    out = roundtrip({"x": data}, raw=raw)["x"]
    assert out.shape == data.shape and out.dtype == data.dtype
    assert out.tobytes() == np.ascontiguousarray(data).tobytes()


@settings(max_examples=100, deadline=None)
@given(elements=st.lists(st.binary(max_size=40), max_size=12), raw=st.booleans())
def test_any_bytes_roundtrip(elements, raw):
    data = np.empty(len(elements), dtype=object)
    data[:] = elements
    assert roundtrip({"b": data}, raw=raw)["b"].tolist() == elements


@settings(max_examples=300, deadline=None)
@given(datatype=st.sampled_from(list(DATATYPES) + ["", "FP8", "int32"]),
       shape=st.lists(st.integers(-3, 2**45), max_size=5),
       raw=st.one_of(st.none(), st.binary(max_size=64)),
       floats=st.lists(st.floats(width=32), max_size=8))
def test_malformed_tensors_raise_codec_error_only(datatype, shape, raw, floats):
    request = pb.ModelInferRequest()
    t = request.inputs.add(name="x", datatype=datatype, shape=shape)
    t.contents.fp32_contents.extend(floats)
    if raw is not None:
        request.raw_input_contents.append(raw)
    try:
        out = codec.decode_tensors(request.inputs, request.raw_input_contents)
    except codec.CodecError as e:
        assert "'x'" in str(e)
    else:
        assert out["x"].shape == tuple(shape)
