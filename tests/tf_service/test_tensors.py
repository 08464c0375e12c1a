"""numpy <-> TensorProto: tensor_content both ways, DT_STRING for BYTES, and agreement with
TensorFlow's own converters (tf.make_ndarray / tf.make_tensor_proto) for every datatype."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2

from client.datatypes import DATATYPES
from tests.support.samples import sample
from tf_service.tensors import TensorProtoError, from_tensor_proto, to_tensor_proto


@pytest.mark.parametrize("datatype", sorted(DATATYPES))
def test_round_trip_and_tensorflow_agrees(datatype):
    array = sample(datatype)
    proto = tensor_pb2.TensorProto()
    to_tensor_proto(array, proto)
    if datatype == "BYTES":
        assert list(proto.string_val) == list(array.reshape(-1)) and not proto.tensor_content
    else:  # raw bytes, never per-element lists
        assert proto.tensor_content == np.ascontiguousarray(array, DATATYPES[datatype].dtype).tobytes()
        assert not any(len(getattr(proto, f)) for f in ("float_val", "int_val", "int64_val", "half_val", "bool_val"))
    np.testing.assert_array_equal(tf.make_ndarray(proto), array)  # TensorFlow reads what we write
    back = from_tensor_proto(tf.make_tensor_proto(array), "t")  # and we read what TensorFlow writes
    assert back.shape == array.shape and back.dtype == array.dtype
    np.testing.assert_array_equal(back, array)
    empty = array[:0]
    proto = tensor_pb2.TensorProto()
    to_tensor_proto(empty, proto)
    assert from_tensor_proto(proto, "t").shape == (0, 3)


@pytest.mark.parametrize("value, dtype", [(2.5, tf.float32), (7, tf.int64), (True, tf.bool), (1.5, tf.float16),
                                          (1.5, tf.bfloat16), (b"s", tf.string), (3, tf.uint8)])
def test_typed_value_fields_and_scalar_fill(value, dtype):
    proto = tf.make_tensor_proto(value, dtype=dtype, shape=[2, 2])  # TF writes one value to fill the tensor
    out = from_tensor_proto(proto, "t")
    np.testing.assert_array_equal(out, tf.make_ndarray(proto))
    assert out.shape == (2, 2)


def test_malformed_protos_are_refused_with_the_tensor_named():
    proto = tensor_pb2.TensorProto(dtype=1, tensor_content=b"\0" * 7)
    proto.tensor_shape.dim.add(size=2)
    with pytest.raises(TensorProtoError, match="output 'y': tensor_content holds 7 bytes, expected 8"):
        from_tensor_proto(proto, "output 'y'")
    with pytest.raises(TensorProtoError, match="DT_COMPLEX64"):
        from_tensor_proto(tensor_pb2.TensorProto(dtype=8), "t")
    wrong_count = tensor_pb2.TensorProto(dtype=1, float_val=[1.0, 2.0])
    wrong_count.tensor_shape.dim.add(size=3)
    with pytest.raises(TensorProtoError, match="2 values in float_val, expected 3"):
        from_tensor_proto(wrong_count, "t")
