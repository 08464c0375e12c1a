"""TensorFlow's TensorProto <-> numpy for the tfserving kind, on the vendored messages (no
TensorFlow import). Numbers travel in `tensor_content` (little-endian, row-major); strings in
`string_val`. Answers are read from `tensor_content` or the typed `*_val` fields, as TF Serving
may send either."""

from __future__ import annotations

import numpy as np

from .vendor import tfserving_subset_pb2 as tfs

# tensorflow.DataType number -> (OIP datatype, numpy dtype, typed field)
DTYPES: dict[int, tuple[str, np.dtype | None, str]] = {
    1: ("FP32", np.dtype("<f4"), "float_val"), 2: ("FP64", np.dtype("<f8"), "double_val"),
    3: ("INT32", np.dtype("<i4"), "int_val"), 4: ("UINT8", np.dtype("u1"), "int_val"),
    5: ("INT16", np.dtype("<i2"), "int_val"), 6: ("INT8", np.dtype("i1"), "int_val"),
    7: ("BYTES", None, "string_val"), 9: ("INT64", np.dtype("<i8"), "int64_val"),
    10: ("BOOL", np.dtype("?"), "bool_val"), 17: ("UINT16", np.dtype("<u2"), "int_val"),
    19: ("FP16", np.dtype("<f2"), "half_val"), 22: ("UINT32", np.dtype("<u4"), "uint32_val"),
    23: ("UINT64", np.dtype("<u8"), "uint64_val"),
}
BY_DATATYPE = {oip: number for number, (oip, _, _) in DTYPES.items()}


def shape_of(proto: tfs.TensorShapeProto) -> tuple[int, ...]:
    return tuple(int(d.size) for d in proto.dim)


def to_proto(array: np.ndarray, datatype: str) -> tfs.TensorProto:
    number = BY_DATATYPE[datatype]
    _, dtype, _ = DTYPES[number]
    out = tfs.TensorProto(dtype=number)
    out.tensor_shape.dim.extend(tfs.TensorShapeProto.Dim(size=int(n)) for n in array.shape)
    if dtype is None:
        out.string_val.extend(v if isinstance(v, bytes) else str(v).encode() for v in array.reshape(-1))
    else:
        out.tensor_content = np.ascontiguousarray(array, dtype=dtype).tobytes()
    return out


def from_proto(proto: tfs.TensorProto) -> np.ndarray:
    """ValueError when the dtype is unknown or the values do not fill the shape."""
    if proto.dtype not in DTYPES:
        raise ValueError(f"tensorflow.DataType {proto.dtype} is not supported here")
    _, dtype, field = DTYPES[proto.dtype]
    shape = shape_of(proto.tensor_shape)
    count = int(np.prod(shape)) if shape else 1
    if dtype is None:
        values = np.array(list(proto.string_val), dtype=object)
    elif proto.tensor_content:
        values = np.frombuffer(proto.tensor_content, dtype=dtype)
    else:
        raw = list(getattr(proto, field))
        if field == "half_val":
            values = np.array(raw, dtype=np.uint16).view(np.float16)
        else:
            values = np.array(raw, dtype=dtype)
    if values.size == 1 and count != 1:
        values = np.repeat(values, count)  # TF Serving's short form for a constant tensor
    if values.size != count:
        raise ValueError(f"tensor of shape {list(shape)} holds {values.size} values")
    return values.reshape(shape)
