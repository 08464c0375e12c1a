"""One small tensor per OIP datatype, with the edge values worth sending (type limits, signed zero,
empty and non-ASCII bytes), for round-trip tests."""

from __future__ import annotations

import numpy as np

from client.datatypes import DATATYPES


def sample(datatype: str, shape=(2, 3)) -> np.ndarray:
    if datatype == "BYTES":
        return np.array([b"", b"a", "\u00e9t\u00e9".encode(), b"\x00\xff", b"x" * 300, b"z"],
                        dtype=object).reshape(shape)
    dtype = DATATYPES[datatype].dtype.newbyteorder("=")
    if datatype == "BOOL":
        return np.array([True, False, True, True, False, False]).reshape(shape)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return np.array([info.min, info.max, 0, 1, 2, info.max - 1], dtype=dtype).reshape(shape)
    return np.array([0.5, -1.25, 3.0, 0.0, -0.0, 1e3], dtype=np.float32).astype(dtype).reshape(shape)
