"""The model-property conventions of the contract, parsed in this one place: the servers enforce them
(server_core.contract) and the parity suite generates inputs and the behaviour corpus from them.

A model declares them in its ModelMetadata properties (torch_service: model-config.yaml
`properties:`, tf_service: model.yaml `properties:`), keyed by input name:

- `"<input>.range": "lo,hi"`: the input's values. Integer inputs: lo <= v < hi (hi is e.g. a
  vocabulary size). Floating-point inputs: lo <= v <= hi, NaN refused (a float range bounds measured
  values: digits pixels are 0..16 inclusive).
- `"<input>.max_shape": "d0,d1,..."`: the largest size of each dimension, 0 where unbounded.
- `"<input>.min_shape": "d0,d1,..."`: the smallest size of each dimension, 0 where unbounded.
- `"<input>.shape_as": "<other input>"`: the input must have exactly the other input's shape
  (an attention mask and its token ids).
- `"max_request_rows": "N"`, `"max_request_bytes": "N"`: the work one request may carry (the
  servers' defaults apply when absent).

Every parser raises `PropertyError` (a ValueError) naming the property and what was expected. This
module needs only numpy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .. import datatypes
from ..messages import TensorSpec

RANGE, MAX_SHAPE, MIN_SHAPE, SHAPE_AS = "range", "max_shape", "min_shape", "shape_as"
MAX_REQUEST_ROWS, MAX_REQUEST_BYTES = "max_request_rows", "max_request_bytes"
_INT_KINDS = "iu"


class PropertyError(ValueError):
    """A declared property cannot be read; the text names it and what was expected."""


def key(input_name: str, what: str) -> str:
    """The property key of `what` (RANGE, MAX_SHAPE, ...) for one input."""
    return f"{input_name}.{what}"


@dataclass(frozen=True)
class ValueRange:
    """Declared values of one input: [lo, hi) for integers, [lo, hi] for floats."""

    lo: float
    hi: float
    integer: bool
    text: str  # as declared, for messages

    def describe(self) -> str:
        return f"[{self.lo}, {self.hi}{')' if self.integer else ']'}"

    def outside(self, array: np.ndarray) -> np.ndarray:
        """Boolean mask of the elements outside the range (NaN is outside a float range)."""
        if self.integer:
            return (array < self.lo) | (array >= self.hi)
        with np.errstate(invalid="ignore"):
            return ~((array >= self.lo) & (array <= self.hi))


def _dtype(spec: TensorSpec) -> np.dtype | None:
    try:
        dt = datatypes.lookup(spec.datatype)
    except KeyError:
        return None
    return None if dt.dtype is None else dt.dtype.newbyteorder("=")


def parse_range(spec: TensorSpec, text: str) -> ValueRange:
    """A `"lo,hi"` range of `spec`'s values, checked against its datatype."""
    what = f"input '{spec.name}': range {text!r}"
    dtype = _dtype(spec)
    if dtype is None or (dtype.kind not in _INT_KINDS + "f" and spec.datatype != "BF16"):
        raise PropertyError(f"{what}: a range applies to integer and floating-point inputs, not {spec.datatype}")
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 2:
        raise PropertyError(f"{what} is malformed; expected \"lo,hi\"")
    integer = dtype.kind in _INT_KINDS
    try:
        lo, hi = (int(p) for p in parts) if integer else (float(p) for p in parts)
    except ValueError:
        kind = "integers" if integer else "numbers"
        raise PropertyError(f"{what}: expected two {kind} \"lo,hi\" for {spec.datatype}") from None
    if not lo < hi:
        raise PropertyError(f"{what}: expected lo < hi")
    if integer:
        info = np.iinfo(dtype)
        if lo < info.min or hi - 1 > info.max:
            raise PropertyError(f"{what} does not fit {spec.datatype} [{info.min}, {info.max}]")
    return ValueRange(lo, hi, integer, str(text))


def parse_shape_bound(spec: TensorSpec, what: str, text: str) -> tuple[int, ...]:
    """`"d0,d1,..."` (one size per dimension of `spec`, 0 = no bound)."""
    label = f"input '{spec.name}': {what} {text!r}"
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != len(spec.shape):
        raise PropertyError(f"{label}: expected {len(spec.shape)} comma-separated sizes (one per dimension "
                            f"of {list(spec.shape)}, 0 = unbounded)")
    try:
        sizes = tuple(int(p) for p in parts)
    except ValueError:
        raise PropertyError(f"{label}: expected integers >= 0") from None
    if any(s < 0 for s in sizes):
        raise PropertyError(f"{label}: expected integers >= 0")
    return sizes


def parse_count(name: str, text: str) -> int:
    """A positive integer property (max_request_rows, max_request_bytes)."""
    try:
        value = int(str(text).strip())
    except ValueError:
        value = 0
    if value < 1:
        raise PropertyError(f"property '{name}': expected an integer >= 1, got {text!r}")
    return value


@dataclass(frozen=True)
class InputDeclarations:
    """What the properties declare about one input (None / () where nothing is declared)."""

    range: ValueRange | None = None
    max_shape: tuple[int, ...] = ()
    min_shape: tuple[int, ...] = ()
    shape_as: str | None = None


def declarations(specs: Sequence[TensorSpec], properties: Mapping[str, str]) -> dict[str, InputDeclarations]:
    """Every input's declarations (properties of names that are not inputs are not ours: ignored)."""
    names = [s.name for s in specs]
    out = {}
    for spec in specs:
        get = properties.get
        value_range = get(key(spec.name, RANGE))
        max_shape, min_shape = get(key(spec.name, MAX_SHAPE)), get(key(spec.name, MIN_SHAPE))
        shape_as = get(key(spec.name, SHAPE_AS))
        if shape_as is not None and (shape_as not in names or shape_as == spec.name):
            raise PropertyError(f"input '{spec.name}': {SHAPE_AS} {shape_as!r} must name another input "
                                f"({', '.join(n for n in names if n != spec.name) or 'there is none'})")
        out[spec.name] = InputDeclarations(
            None if value_range is None else parse_range(spec, value_range),
            () if max_shape is None else parse_shape_bound(spec, MAX_SHAPE, max_shape),
            () if min_shape is None else parse_shape_bound(spec, MIN_SHAPE, min_shape),
            shape_as)
    return out
