"""The OIP v2 datatypes and their numpy / typed-contents counterparts."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np

_ml_dtypes: ModuleType | None
try:  # BF16 has no numpy dtype of its own; ml_dtypes (shipped with TF and JAX) provides one.
    import ml_dtypes as _ml_dtypes
except ImportError:  # pragma: no cover - exercised only where ml_dtypes is absent
    _ml_dtypes = None


@dataclass(frozen=True)
class DataType:
    """One OIP v2 datatype: its numpy dtype, wire size and typed-contents field."""

    name: str
    dtype: np.dtype | None  # little-endian wire dtype; None for BYTES
    size: int  # bytes per element; 0 for BYTES (variable)
    contents_field: str | None  # InferTensorContents field, None where only raw is allowed


def _dt(name, dtype, size, field):
    return DataType(name, None if dtype is None else np.dtype(dtype).newbyteorder("<"), size, field)


_TABLE = [
    _dt("BOOL", np.bool_, 1, "bool_contents"),
    _dt("UINT8", np.uint8, 1, "uint_contents"),
    _dt("UINT16", np.uint16, 2, "uint_contents"),
    _dt("UINT32", np.uint32, 4, "uint_contents"),
    _dt("UINT64", np.uint64, 8, "uint64_contents"),
    _dt("INT8", np.int8, 1, "int_contents"),
    _dt("INT16", np.int16, 2, "int_contents"),
    _dt("INT32", np.int32, 4, "int_contents"),
    _dt("INT64", np.int64, 8, "int64_contents"),
    _dt("FP16", np.float16, 2, None),
    _dt("FP32", np.float32, 4, "fp32_contents"),
    _dt("FP64", np.float64, 8, "fp64_contents"),
    _dt("BYTES", None, 0, "bytes_contents"),
]
if _ml_dtypes is not None:
    _TABLE.append(_dt("BF16", _ml_dtypes.bfloat16, 2, None))

DATATYPES: dict[str, DataType] = {d.name: d for d in _TABLE}
# Known to the protocol even where this process cannot represent it (BF16 without ml_dtypes).
PROTOCOL_DATATYPES = (
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
    "FP16", "FP32", "FP64", "BF16", "BYTES",
)
_BY_DTYPE = {d.dtype.newbyteorder("="): d for d in _TABLE if d.dtype is not None}


def lookup(name: str) -> DataType:
    """The DataType called `name`; KeyError when unknown here."""
    return DATATYPES[name]


def datatype_of(array: np.ndarray) -> str:
    """The OIP datatype name for a numpy array (object/str/bytes arrays are BYTES)."""
    kind = array.dtype.kind
    if kind in "OSU":
        return "BYTES"
    found = _BY_DTYPE.get(array.dtype.newbyteorder("="))
    if found is None:
        raise TypeError(f"numpy dtype {array.dtype} has no OIP v2 datatype")
    return found.name
