"""numpy <-> OIP v2 tensors (InferInputTensor / InferOutputTensor), raw and typed contents.

Shared by the client and both services. Decoding validates everything a peer can get wrong and
raises `CodecError` with a message naming the tensor and what was expected. Raw contents are
decoded without copying (the arrays are read-only views of the message's bytes), except BYTES
tensors and byte-swapping on big-endian hosts.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence

import numpy as np

from . import datatypes

MAX_DIMS = 32
MAX_DIM_SIZE = 2**40  # a dimension (or tensor) past this is a malformed request, not a tensor
_LEN = struct.Struct("<I")


class CodecError(ValueError):
    """A tensor on the wire is malformed or does not match its declared datatype/shape."""


def shape_str(shape: Sequence[int]) -> str:
    return "[" + ", ".join(str(int(d)) for d in shape) + "]"


# ---------------------------------------------------------------- encoding (numpy -> wire)


def _as_bytes_elements(array: np.ndarray, label: str) -> list[bytes]:
    out = []
    for item in array.reshape(-1).tolist():
        if isinstance(item, bytes):
            out.append(item)
        elif isinstance(item, str):
            out.append(item.encode("utf-8"))
        else:
            raise CodecError(f"{label}: BYTES elements must be bytes or str, got {type(item).__name__}")
    return out


def serialize_bytes(elements: Sequence[bytes]) -> bytes:
    """BYTES raw form: each element as a 4-byte little-endian length, then its bytes."""
    parts = []
    for e in elements:
        parts.append(_LEN.pack(len(e)))
        parts.append(e)
    return b"".join(parts)


def to_wire_array(array) -> tuple[str, np.ndarray]:
    """(datatype, array) with the array converted to its little-endian wire dtype."""
    array = np.asarray(array)
    datatype = datatypes.datatype_of(array)
    if datatype == "BYTES":
        return datatype, array
    wire = datatypes.lookup(datatype).dtype
    return datatype, np.asarray(array, dtype=wire, order="C")  # keeps 0-d arrays 0-d


def encode_tensors(tensors, raw_contents, arrays: Mapping[str, np.ndarray], *, raw: bool = True) -> None:
    """Append one tensor message per array to the repeated field `tensors`.

    With `raw`, each tensor's data goes to the repeated bytes field `raw_contents`, in order;
    otherwise into the tensor's typed `contents` (FP16/BF16 always need raw: an error then).
    The caller's arrays are never modified.
    """
    for name, value in arrays.items():
        datatype, array = to_wire_array(value)
        msg = tensors.add()
        msg.name = name
        msg.datatype = datatype
        msg.shape.extend(array.shape)
        label = f"tensor '{name}'"
        if raw:
            if datatype == "BYTES":
                raw_contents.append(serialize_bytes(_as_bytes_elements(array, label)))
            else:
                raw_contents.append(array.tobytes())
            continue
        field = datatypes.lookup(datatype).contents_field
        if field is None:
            raise CodecError(f"{label}: {datatype} can only be sent as raw contents")
        if datatype == "BYTES":
            msg.contents.bytes_contents.extend(_as_bytes_elements(array, label))
        else:
            getattr(msg.contents, field).extend(array.reshape(-1).tolist())


# ---------------------------------------------------------------- decoding (wire -> numpy)

_TYPED_FIELDS = (
    "bool_contents", "int_contents", "int64_contents", "uint_contents", "uint64_contents",
    "fp32_contents", "fp64_contents", "bytes_contents",
)
_INT_RANGES = {
    "INT8": (-(2**7), 2**7 - 1), "INT16": (-(2**15), 2**15 - 1),
    "UINT8": (0, 2**8 - 1), "UINT16": (0, 2**16 - 1),
}


def _has_typed_contents(msg) -> bool:
    if not msg.HasField("contents"):
        return False
    contents = msg.contents
    return any(len(getattr(contents, f)) for f in _TYPED_FIELDS)


def checked_shape(label: str, shape: Sequence[int]) -> tuple[int, ...]:
    """The shape as a tuple, refusing negative, absurd or too many dimensions."""
    if len(shape) > MAX_DIMS:
        raise CodecError(f"{label}: {len(shape)} dimensions, at most {MAX_DIMS} are supported")
    for d in shape:
        if d < 0:
            raise CodecError(f"{label}: shape {shape_str(shape)} has a negative dimension; "
                             "a request tensor needs concrete dimensions >= 0")
        if d > MAX_DIM_SIZE:
            raise CodecError(f"{label}: shape {shape_str(shape)} has an absurd dimension {d}")
    if math.prod(max(int(d), 1) for d in shape) > MAX_DIM_SIZE:
        raise CodecError(f"{label}: shape {shape_str(shape)} is absurd: more than {MAX_DIM_SIZE} elements")
    return tuple(int(d) for d in shape)


def _lookup(label: str, name: str) -> datatypes.DataType:
    try:
        return datatypes.lookup(name)
    except KeyError:
        if name in datatypes.PROTOCOL_DATATYPES:
            raise CodecError(f"{label}: datatype {name} is not supported by this process "
                             "(install ml_dtypes for BF16)") from None
        known = ", ".join(datatypes.PROTOCOL_DATATYPES)
        raise CodecError(f"{label}: unknown datatype {name!r}; expected one of {known}") from None


def parse_bytes(label: str, raw: bytes | memoryview, count: int) -> np.ndarray:
    """Parse the BYTES raw form into an object array of `count` bytes elements."""
    view = memoryview(raw)
    offset, total = 0, len(view)
    if count * 4 > total:
        raise CodecError(f"{label}: BYTES raw contents hold {total} bytes, too few for {count} "
                         "length-prefixed elements")
    out = np.empty(count, dtype=object)
    for i in range(count):
        if offset + 4 > total:
            raise CodecError(f"{label}: BYTES raw contents end inside the length prefix of "
                             f"element {i} (expected {count} elements)")
        (length,) = _LEN.unpack_from(view, offset)
        offset += 4
        if offset + length > total:
            raise CodecError(f"{label}: BYTES element {i} claims {length} bytes but only "
                             f"{total - offset} remain")
        out[i] = bytes(view[offset:offset + length])
        offset += length
    if offset != total:
        raise CodecError(f"{label}: {total - offset} trailing bytes after {count} BYTES elements")
    return out


def _decode_raw(label: str, dt: datatypes.DataType, shape: tuple[int, ...], raw: bytes) -> np.ndarray:
    count = math.prod(shape)
    if dt.name == "BYTES":
        return parse_bytes(label, raw, count).reshape(shape)
    expected = count * dt.size
    if len(raw) != expected:
        raise CodecError(f"{label}: raw contents hold {len(raw)} bytes, expected {expected} "
                         f"({dt.name} {shape_str(shape)} = {count} x {dt.size} bytes)")
    wire = dt.dtype
    assert wire is not None  # only BYTES has no numpy dtype, handled above
    array = np.frombuffer(raw, dtype=wire).reshape(shape)
    if dt.name == "BOOL" and count and (np.frombuffer(raw, dtype=np.uint8) > 1).any():
        raise CodecError(f"{label}: BOOL raw contents must hold only 0 or 1 bytes")
    if not wire.isnative:  # big-endian host: the one copy
        array = array.astype(wire.newbyteorder("="))
    return array


def _decode_typed(label: str, dt: datatypes.DataType, shape: tuple[int, ...], msg) -> np.ndarray:
    count = math.prod(shape)
    if dt.contents_field is None:
        raise CodecError(f"{label}: {dt.name} data must be sent as raw contents")
    contents = msg.contents
    for f in _TYPED_FIELDS:
        if f != dt.contents_field and len(getattr(contents, f)):
            raise CodecError(f"{label}: datatype {dt.name} expects contents.{dt.contents_field}, "
                             f"got contents.{f}")
    values = getattr(contents, dt.contents_field)
    if len(values) != count:
        raise CodecError(f"{label}: expected {count} values in contents.{dt.contents_field} for "
                         f"{dt.name} {shape_str(shape)}, got {len(values)}")
    if dt.name == "BYTES":
        out = np.empty(count, dtype=object)
        out[:] = list(values)
        return out.reshape(shape)
    if dt.name in _INT_RANGES and count:
        lo, hi = _INT_RANGES[dt.name]
        wide = np.asarray(values, dtype=np.int64)
        if wide.min() < lo or wide.max() > hi:
            raise CodecError(f"{label}: values outside the {dt.name} range [{lo}, {hi}]")
    assert dt.dtype is not None  # only BYTES has no numpy dtype, handled above
    return np.asarray(values, dtype=dt.dtype.newbyteorder("=")).reshape(shape)


def decode_tensors(tensors, raw_contents: Sequence[bytes], *, kind: str = "input") -> dict[str, np.ndarray]:
    """Decode repeated Infer{Input,Output}Tensor + raw contents into {name: array}."""
    raw_count = len(raw_contents)
    if raw_count:
        if raw_count != len(tensors):
            raise CodecError(f"{len(tensors)} {kind}s but {raw_count} raw_{kind}_contents entries; "
                             f"expected one raw entry per {kind}")
    out: dict[str, np.ndarray] = {}
    for i, msg in enumerate(tensors):
        label = f"{kind} '{msg.name}'"
        if not msg.name:
            raise CodecError(f"{kind} #{i} has no name")
        if msg.name in out:
            raise CodecError(f"{label} appears more than once")
        dt = _lookup(label, msg.datatype)
        shape = checked_shape(label, msg.shape)
        if raw_count:
            if _has_typed_contents(msg):
                raise CodecError(f"{label}: sets typed contents while the request uses "
                                 f"raw_{kind}_contents; use one or the other")
            out[msg.name] = _decode_raw(label, dt, shape, raw_contents[i])
        else:
            out[msg.name] = _decode_typed(label, dt, shape, msg)
    return out


def json_values(datatype: str, array: np.ndarray) -> list | None:
    """A tensor's flat values as OIP v2 REST's JSON `data` carries them: BYTES as UTF-8 strings,
    FP16/BF16 as JSON numbers; None when JSON cannot carry it (BYTES that are not UTF-8: send binary)."""
    flat = array.reshape(-1)
    if datatype == "BYTES":
        try:
            return [e.decode("utf-8") if isinstance(e, bytes) else str(e) for e in flat.tolist()]
        except UnicodeDecodeError:
            return None
    if datatypes.lookup(datatype).contents_field is None:  # FP16, BF16: no typed field, numbers in JSON
        flat = flat.astype(np.float32)
    return flat.tolist()
