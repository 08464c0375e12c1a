"""numpy <-> TensorFlow's TensorProto, for TF Serving's Predict. Numeric tensors cross as
`tensor_content` (little-endian bytes, one copy, no per-element protobuf lists) both ways; BYTES
travel as DT_STRING `string_val` (TensorFlow keeps strings out of tensor_content). Replies that use
the typed `*_val` fields (as some TF Serving paths do for scalars) are read too.
"""

from __future__ import annotations

import math

import numpy as np

from client.datatypes import DATATYPES, datatype_of

from .contract import OIP_TO_TF, TF_TO_OIP, tf_dtype_name

# The typed value field TF uses for each datatype when tensor_content is not set.
_VAL_FIELD = {
    "BOOL": "bool_val", "UINT8": "int_val", "UINT16": "int_val", "INT8": "int_val", "INT16": "int_val",
    "INT32": "int_val", "UINT32": "uint32_val", "UINT64": "uint64_val", "INT64": "int64_val",
    "FP16": "half_val", "BF16": "half_val", "FP32": "float_val", "FP64": "double_val", "BYTES": "string_val",
}


class TensorProtoError(ValueError):
    """A TensorProto cannot become an array (unsupported dtype, wrong content size)."""


def to_tensor_proto(array: np.ndarray, proto) -> None:
    """Fill an empty TensorProto `proto` from `array`."""
    datatype = datatype_of(array)
    proto.dtype = OIP_TO_TF[datatype]
    for d in array.shape:
        proto.tensor_shape.dim.add(size=d)
    if datatype == "BYTES":
        proto.string_val.extend(e if isinstance(e, bytes) else str(e).encode() for e in array.reshape(-1).tolist())
    else:
        wire = DATATYPES[datatype].dtype  # little-endian
        proto.tensor_content = np.ascontiguousarray(array, dtype=wire).tobytes()


def from_tensor_proto(proto, label: str) -> np.ndarray:
    """The array a TensorProto holds. Raises TensorProtoError naming `label`."""
    datatype = TF_TO_OIP.get(proto.dtype)
    if datatype is None:
        raise TensorProtoError(f"{label}: dtype {tf_dtype_name(proto.dtype)} cannot be carried on the contract")
    if proto.tensor_shape.unknown_rank:
        raise TensorProtoError(f"{label}: tensor has unknown rank")
    shape = tuple(int(d.size) for d in proto.tensor_shape.dim)
    count = math.prod(shape)
    dt = DATATYPES[datatype]
    wire = dt.dtype  # little-endian; None only for BYTES
    if datatype != "BYTES" and proto.tensor_content:
        assert wire is not None
        content = proto.tensor_content
        if len(content) != count * dt.size:
            raise TensorProtoError(f"{label}: tensor_content holds {len(content)} bytes, expected "
                                   f"{count * dt.size} for {datatype} {list(shape)}")
        array = np.frombuffer(content, dtype=wire)
        return (array if wire.isnative else array.astype(wire.newbyteorder("="))).reshape(shape)
    values = getattr(proto, _VAL_FIELD[datatype])
    if datatype == "BYTES":
        flat = np.empty(len(values), dtype=object)
        flat[:] = list(values)
    else:
        assert wire is not None
        if datatype in ("FP16", "BF16"):  # bit patterns stored in an int32 field
            flat = np.asarray(values, dtype=np.uint16).view(wire.newbyteorder("="))
        else:
            flat = np.asarray(values, dtype=wire.newbyteorder("="))
    if len(flat) == count:
        return flat.reshape(shape)
    if len(flat) == 1:  # TF's convention: one value fills the tensor
        return np.full(shape, flat[0], dtype=flat.dtype)
    raise TensorProtoError(f"{label}: {len(flat)} values in {_VAL_FIELD[datatype]}, expected {count} "
                           f"for {datatype} {list(shape)}")
