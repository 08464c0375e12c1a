"""The request contract both services enforce, in this one place, before any framework runs.

`RequestContract.check(inputs)` runs on every ModelInfer after the signature check (names, datatypes,
ranks, fixed dimensions: `server_core.signature`), in this order, and raises `InvalidArgument` with
one message naming the tensor, the value or dimension, and the limit:

1. rows: on a batched signature (every input's first dimension variable) each input's rows are at
   most the model's `max_batch_size` when it batches, else `max_request_rows` (property, or the
   server default `DEFAULT_MAX_REQUEST_ROWS`);
2. every input of a batched signature has the same number of rows;
3. bytes: all inputs together hold at most `max_request_bytes` (property, or
   `DEFAULT_MAX_REQUEST_BYTES`), so no request holds a worker for seconds;
4. per input, in declared order: `<input>.min_shape` / `<input>.max_shape` and `<input>.shape_as`;
5. per input, in declared order: `<input>.range` (integer inputs [lo, hi), floats [lo, hi], NaN
   refused).

The property grammar is `client.parity.properties` (the parity suite reads the same). A malformed
declaration raises `PropertyError` when the model is built, so the model does not load and its
RepositoryIndex reason says why.

What the frameworks still refuse after these checks (an index a model computes, a shape relation
the model does not declare) is mapped by each service by exception type (torch: IndexError and
export guard AssertionErrors; TensorFlow: INVALID_ARGUMENT) to `InputRejected`: INVALID_ARGUMENT
with the same words on both services; the framework's text goes to the log, rate-limited.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from client.codec import shape_str
from client.messages import TensorSpec
from client.parity import properties as props

from .errors import InvalidArgument

log = logging.getLogger("tandem.contract")

# An unbatched model's rows per request: the zoo's text-encoder takes ~1.4 s for 256 rows of 128
# tokens on 2 cores, ~0.35 s for 64. A model may declare its own (property max_request_rows).
DEFAULT_MAX_REQUEST_ROWS = 64
DEFAULT_MAX_REQUEST_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class RequestLimits:
    """The server's default bound on one request's work; a model's properties may lower or raise it."""

    max_rows: int = DEFAULT_MAX_REQUEST_ROWS
    max_bytes: int = DEFAULT_MAX_REQUEST_BYTES

    def __post_init__(self):
        if self.max_rows < 1 or self.max_bytes < 1:
            raise ValueError(f"request limits must be >= 1, got {self.max_rows} rows and {self.max_bytes} bytes")


def _is_batched(specs: Sequence[TensorSpec]) -> bool:
    return bool(specs) and all(len(s.shape) >= 1 and s.shape[0] == -1 for s in specs)


def _nbytes(array: np.ndarray) -> int:
    if array.dtype.kind == "O":
        return sum(len(e) if isinstance(e, (bytes, str)) else 0 for e in array.reshape(-1))
    return int(array.nbytes)


class RequestContract:
    """The checks of one model version, built once from its signature and properties."""

    def __init__(self, model: str, inputs: Sequence[TensorSpec], properties: Mapping[str, str], *,
                 max_batch_size: int | None = None, limits: RequestLimits | None = None):
        limits = limits or RequestLimits()
        self.model = model
        self.inputs = tuple(inputs)
        self.batched = _is_batched(self.inputs)
        self.declared = props.declarations(self.inputs, properties)
        self.max_batch_size = max_batch_size
        rows = properties.get(props.MAX_REQUEST_ROWS)
        nbytes = properties.get(props.MAX_REQUEST_BYTES)
        self.max_rows = limits.max_rows if rows is None else props.parse_count(props.MAX_REQUEST_ROWS, rows)
        self.max_bytes = limits.max_bytes if nbytes is None else props.parse_count(props.MAX_REQUEST_BYTES,
                                                                                    nbytes)

    def _row_limit(self) -> tuple[int, str]:
        if self.max_batch_size is not None and self.max_batch_size <= self.max_rows:
            return self.max_batch_size, f"max_batch_size {self.max_batch_size}"
        return self.max_rows, f"max_request_rows {self.max_rows}"

    def check(self, inputs: Mapping[str, np.ndarray]) -> None:
        """Raise InvalidArgument for the first broken rule (see the module docstring); inputs have
        passed the signature check already."""
        if self.batched:
            self._check_rows(inputs)
        self._check_bytes(inputs)
        for spec in self.inputs:
            self._check_shape(spec, inputs)
        for spec in self.inputs:
            declared = self.declared[spec.name].range
            if declared is not None:
                self._check_values(spec.name, inputs[spec.name], declared)

    def _check_rows(self, inputs: Mapping[str, np.ndarray]) -> None:
        limit, what = self._row_limit()
        for name, array in inputs.items():
            if array.shape[0] > limit:
                raise InvalidArgument(f"input '{name}': batch of {array.shape[0]} rows is larger than model "
                                      f"'{self.model}' accepts ({what}); split the request")
        first = self.inputs[0].name
        rows = inputs[first].shape[0]
        for spec in self.inputs[1:]:
            other = inputs[spec.name].shape[0]
            if other != rows:
                raise InvalidArgument(f"input '{spec.name}': batch of {other} rows, but input '{first}' has "
                                      f"{rows}; every input of model '{self.model}' needs the same batch size")

    def _check_bytes(self, inputs: Mapping[str, np.ndarray]) -> None:
        total = sum(_nbytes(a) for a in inputs.values())
        if total > self.max_bytes:
            names = ", ".join(f"'{n}'" for n in inputs)
            raise InvalidArgument(f"input{'s' if len(inputs) > 1 else ''} {names}: {total} bytes, more than model "
                                  f"'{self.model}' accepts in one request (max_request_bytes {self.max_bytes}); "
                                  "split the request")

    def _check_shape(self, spec: TensorSpec, inputs: Mapping[str, np.ndarray]) -> None:
        declared = self.declared[spec.name]
        shape = inputs[spec.name].shape
        for what, bounds in ((props.MAX_SHAPE, declared.max_shape), (props.MIN_SHAPE, declared.min_shape)):
            for axis, (size, bound) in enumerate(zip(shape, bounds)):
                if bound and (size > bound if what == props.MAX_SHAPE else size < bound):
                    relation = "larger than the maximum" if what == props.MAX_SHAPE else "smaller than the minimum"
                    raise InvalidArgument(
                        f"input '{spec.name}': dimension {axis} is {size}, {relation} {bound} of model "
                        f"'{self.model}' (property '{props.key(spec.name, what)}': "
                        f"\"{','.join(map(str, bounds))}\")")
        if declared.shape_as is not None:
            other = inputs[declared.shape_as].shape
            if shape != other:
                raise InvalidArgument(
                    f"input '{spec.name}': shape {shape_str(shape)} differs from input '{declared.shape_as}' "
                    f"{shape_str(other)}; model '{self.model}' needs them the same shape "
                    f"(property '{props.key(spec.name, props.SHAPE_AS)}')")

    def _check_values(self, name: str, array: np.ndarray, declared: props.ValueRange) -> None:
        if array.size == 0:
            return
        low, high = array.min(), array.max()
        if declared.integer and declared.lo <= low and high < declared.hi:
            return
        if not declared.integer and declared.lo <= low and high <= declared.hi:
            return  # NaN compares false: it takes the slow path below and is reported
        outside = declared.outside(array)
        flat = int(np.flatnonzero(outside)[0])
        index = [int(i) for i in np.unravel_index(flat, array.shape)]
        value = array.reshape(-1)[flat]
        raise InvalidArgument(f"input '{name}': value {value} at index {index} is outside {declared.describe()} "
                              f"declared by model '{self.model}' (property '{props.key(name, props.RANGE)}': "
                              f"\"{declared.text}\")")


class _RateLimitedLog:
    """One log line per key per `every_s` seconds, with the count of lines left out in between."""

    def __init__(self, every_s: float = 10.0, clock=time.monotonic):
        self.every_s = every_s
        self.clock = clock
        self._last: dict[str, float] = {}
        self._skipped: dict[str, int] = {}

    def warning(self, key: str, message: str, *args) -> None:
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.every_s:
            self._skipped[key] = self._skipped.get(key, 0) + 1
            return
        skipped = self._skipped.pop(key, 0)
        self._last[key] = now
        suffix = f" ({skipped} more since the last report)" if skipped else ""
        log.warning(message + suffix, *args)


_rejections = _RateLimitedLog()


class InputRejected(InvalidArgument):
    """The framework refused the request's content after the contract checks passed: the same
    words on both services; the framework's own text goes to the log (rate-limited per model)."""

    def __init__(self, model: str, detail: str):
        super().__init__(f"model '{model}' could not run on this request's inputs: their values or shapes are "
                         "outside what the model supports; check them against its metadata (inputs and "
                         "properties)")
        self.model = model
        self.detail = detail
        _rejections.warning(model, "model %s refused a request's inputs: %s", model, detail)
