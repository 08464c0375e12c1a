"""Inputs generated from a model's signature, for servers compared without an inputs file.

What a generic generator can know is the datatype and shape of each input, plus what the model
declares in its ModelMetadata properties. The rules, in order:

- A property `"<input>.range": "lo,hi"` (or `--range NAME=lo,hi`; grammar in
  `client.parity.properties`) gives the interval [lo, hi): integers drawn uniformly in it (e.g. token
  ids below the vocabulary size), floats uniformly.
- Otherwise a name tells what a tensor is by the conventions of transformer models: a name
  containing `mask` gets a padding mask (per row a prefix of ones of random length >= 1, then
  zeros: no row is fully masked, so softmax over it stays defined); `*position_ids` gets 0..L-1;
  `*type_ids` / `*segment_ids` get zeros.
- Otherwise by datatype: floats are standard normal, integers uniform in [0, 100) (small enough to
  index any embedding table), BOOL uniform, BYTES random lowercase ASCII words.

A variable first dimension is the batch axis (its size is the batch being built). Other variable
dimensions are drawn in [min_dim, max_dim] once per batch and shared by every input having a
variable dimension at the same axis, so `input_ids` and `attention_mask` (both [-1, -1]) get the
same sequence length.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .. import datatypes
from ..messages import TensorSpec
from . import properties

DEFAULT_INT_RANGE = (0, 100)
_LETTERS = np.frombuffer(string.ascii_lowercase.encode(), dtype=np.uint8)
_INT_KINDS = "iu"


@dataclass(frozen=True)
class Limits:
    min_dim: int = 1  # variable non-batch dimensions are drawn in [min_dim, max_dim]
    max_dim: int = 16
    max_bytes_length: int = 16  # BYTES elements have 1..max_bytes_length characters

    def __post_init__(self):
        if not 0 <= self.min_dim <= self.max_dim:
            raise ValueError(f"dimension limits: expected 0 <= min_dim <= max_dim, got "
                             f"{self.min_dim} and {self.max_dim}")
        if self.max_bytes_length < 1:
            raise ValueError(f"max_bytes_length must be >= 1, got {self.max_bytes_length}")


def _numpy_dtype(spec: TensorSpec) -> np.dtype | None:
    try:
        dt = datatypes.lookup(spec.datatype)
    except KeyError:
        raise ValueError(f"input '{spec.name}': cannot generate datatype {spec.datatype!r}; "
                         "pass an inputs file instead") from None
    return None if dt.dtype is None else dt.dtype.newbyteorder("=")


def parse_range(spec: TensorSpec, text: str) -> tuple[float, float]:
    """(lo, hi) from "lo,hi" (the contract's grammar, `client.parity.properties`), checked against the
    input's datatype. Generated values always lie in [lo, hi)."""
    declared = properties.parse_range(spec, text)
    return declared.lo, declared.hi


class InputGenerator:
    """`InputGenerator(specs, seed=0).batch(8)` -> {name: array} for 8 samples (or `batch(None)`
    for one unbatched request). The same seed gives the same sequence of batches."""

    def __init__(self, specs: Sequence[TensorSpec], *, seed: int = 0,
                 ranges: Mapping[str, tuple[float, float]] | None = None, limits: Limits | None = None):
        self.specs = tuple(specs)
        self.ranges = dict(ranges or {})
        self.limits = limits or Limits()
        self.rng = np.random.default_rng(seed)
        for spec in self.specs:
            _numpy_dtype(spec)  # fail now, with the input's name, on datatypes we cannot produce

    def _shapes(self, rows: int | None) -> dict[str, tuple[int, ...]]:
        drawn: dict[int, int] = {}
        shapes = {}
        for spec in self.specs:
            shape = []
            for axis, dim in enumerate(spec.shape):
                if dim >= 0:
                    shape.append(dim)
                elif axis == 0 and rows is not None:
                    shape.append(rows)
                else:
                    if axis not in drawn:
                        drawn[axis] = int(self.rng.integers(self.limits.min_dim, self.limits.max_dim + 1))
                    shape.append(drawn[axis])
            shapes[spec.name] = tuple(shape)
        return shapes

    def batch(self, rows: int | None) -> dict[str, np.ndarray]:
        shapes = self._shapes(rows)
        return {spec.name: self._tensor(spec, shapes[spec.name]) for spec in self.specs}

    def _tensor(self, spec: TensorSpec, shape: tuple[int, ...]) -> np.ndarray:
        dtype = _numpy_dtype(spec)
        if dtype is None:
            return self._words(shape)
        name = spec.name.lower()
        if spec.name in self.ranges:
            lo, hi = self.ranges[spec.name]
            if dtype.kind in _INT_KINDS:  # parse_range gives ints here; int() is numpy's own truncation
                return self.rng.integers(int(lo), int(hi), size=shape, dtype=dtype)
            if dtype.kind == "b":
                return self.rng.integers(max(int(lo), 0), min(int(hi), 2), size=shape).astype(dtype)
            values = self.rng.uniform(lo, hi, size=shape).astype(dtype)
            top = np.asarray(hi).astype(dtype)  # rounding to a narrow float may reach hi: keep [lo, hi)
            return np.where(values >= top, np.asarray(lo).astype(dtype), values).astype(dtype)
        if "mask" in name:
            return self._mask(shape).astype(dtype)
        if dtype.kind in _INT_KINDS and name.endswith("position_ids"):
            last = shape[-1] if shape else 1
            return np.broadcast_to(np.arange(last), shape).astype(dtype)
        if dtype.kind in _INT_KINDS and name.endswith(("type_ids", "segment_ids")):
            return np.zeros(shape, dtype=dtype)
        if dtype.kind in _INT_KINDS:
            lo, hi = DEFAULT_INT_RANGE
            return self.rng.integers(lo, hi, size=shape, dtype=dtype)
        if dtype.kind == "b":
            return self.rng.integers(0, 2, size=shape).astype(bool)
        return self.rng.standard_normal(size=shape).astype(dtype)

    def _mask(self, shape: tuple[int, ...]) -> np.ndarray:
        if len(shape) < 2 or shape[-1] == 0:  # no sequence axis: nothing to mask
            return np.ones(shape, dtype=np.int64)
        length = shape[-1]
        kept = self.rng.integers(1, length + 1, size=shape[:-1])
        return (np.arange(length) < kept[..., None]).astype(np.int64)

    def _words(self, shape: tuple[int, ...]) -> np.ndarray:
        out = np.empty(shape, dtype=object)
        flat = out.reshape(-1)
        for i in range(flat.size):
            n = int(self.rng.integers(1, self.limits.max_bytes_length + 1))
            flat[i] = self.rng.choice(_LETTERS, size=n).tobytes()
        return out
