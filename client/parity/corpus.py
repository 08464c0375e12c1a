"""The behaviour corpus: requests a client can get wrong, generated from a model's ModelMetadata.

`corpus(meta)` -> [Case]; each case is one raw ModelInferRequest (built with the protobuf classes, so
the client library's own checks never stop a bad request from leaving) plus what any correct
server must answer: `"OK"`, `"error"` (any status but OK, INTERNAL and UNKNOWN) or `"any"` (a
request the contract allows either way, e.g. an empty batch or non-finite floats without a declared
range). Families, each generated where the signature and properties give it a meaning:

- addressing: unknown model, unknown version, empty model name;
- inputs: none, one missing, an extra one, one given twice;
- each input: wrong datatype, unknown datatype, rank one too high / low, a fixed dimension off by
  one, a negative dimension, a scalar;
- batches: more rows than common limits (17, 33, 65, 257 rows, and about 33 MiB of input), inputs
  with different batch sizes, an empty batch;
- declared properties (`client.parity.properties`): values just outside `<input>.range` (and NaN
  for floats), dimensions past `<input>.max_shape` / `<input>.min_shape`, inputs of different shapes
  where `<input>.shape_as` pairs them, and variable non-batch dimensions that differ between inputs;
- contents: raw contents one element short, more raw contents than inputs, typed contents with the
  wrong count, raw and typed contents together, BYTES for a numeric input;
- outputs: an unknown output requested, an output requested twice.

Requests whose input would pass ~36 MiB are left out (the servers' message limit is 64 MiB).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from protos import grpc_predict_v2_pb2 as pb

from .. import datatypes, messages
from ..messages import ModelMetadata
from . import properties as props
from .generate import InputGenerator, Limits

OK, ERROR, ANY = "OK", "error", "any"
MAX_CASE_BYTES = 36 * 1024 * 1024
BIG_REQUEST_BYTES = 33 * 1024 * 1024
BATCH_PROBES = (17, 33, 65, 257)
_OTHER_DATATYPE = {"FP32": "INT32", "FP64": "FP32", "FP16": "FP32", "BF16": "FP32", "BYTES": "INT32"}


@dataclass(frozen=True)
class Case:
    name: str  # short and unique within a corpus, e.g. "input_ids: value -1 below range"
    family: str  # addressing, inputs, datatype, shape, batch, range, contents, outputs
    expect: str  # OK, error or any
    request: pb.ModelInferRequest


class _Builder:
    def __init__(self, meta: ModelMetadata, version: str, seed: int):
        self.meta = meta
        self.version = version
        self.specs = {s.name: s for s in meta.inputs}
        self.declared = props.declarations(meta.inputs, meta.properties)
        self.batched = bool(meta.inputs) and all(s.shape and s.shape[0] == -1 for s in meta.inputs)
        ranges = {n: (d.range.lo, d.range.hi) for n, d in self.declared.items() if d.range is not None}
        self.generator = InputGenerator(meta.inputs, seed=seed, ranges=ranges, limits=self._limits())
        self.cases: list[Case] = []

    def _limits(self) -> Limits:
        low, high = 2, 8
        for d in self.declared.values():
            for axis, bound in enumerate(d.max_shape):
                if axis and bound:
                    high = min(high, bound)
            for axis, bound in enumerate(d.min_shape):
                if axis and bound:
                    low = max(low, bound)
        return Limits(min_dim=min(low, high), max_dim=high)

    # ------------------------------------------------------------------ building requests
    def valid(self, rows: int | None = 2) -> dict[str, np.ndarray]:
        return self.generator.batch(rows if self.batched else None)

    def request(self, inputs: Mapping[str, np.ndarray], *, model: str | None = None, version: str | None = None,
                outputs=()) -> pb.ModelInferRequest:
        name = self.meta.name if model is None else model
        return messages.infer_request(name, inputs, version=self.version if version is None else version,
                                      outputs=list(outputs))

    def add(self, name: str, family: str, expect: str, request: pb.ModelInferRequest | None) -> None:
        if request is None or request.ByteSize() > MAX_CASE_BYTES:
            return
        self.cases.append(Case(name, family, expect, request))

    def tensor(self, request: pb.ModelInferRequest, name: str) -> int:
        return [t.name for t in request.inputs].index(name)

    def edited(self, inputs: Mapping[str, np.ndarray], edit: Callable[[pb.ModelInferRequest], None]):
        request = self.request(inputs)
        edit(request)
        return request

    # ------------------------------------------------------------------ families
    def addressing(self) -> None:
        inputs = self.valid()
        self.add("valid request", "addressing", OK, self.request(inputs))
        self.add("unknown model", "addressing", ERROR, self.request(inputs, model=f"{self.meta.name}-no-such-model"))
        self.add("unknown version", "addressing", ERROR, self.request(inputs, version="987654"))
        self.add("empty model name", "addressing", ERROR, self.request(inputs, model=""))

    def inputs(self) -> None:
        inputs = self.valid()
        self.add("no inputs", "inputs", ERROR, pb.ModelInferRequest(model_name=self.meta.name,
                                                                    model_version=self.version))
        if len(inputs) > 1:
            for name in inputs:
                self.add(f"{name}: missing", "inputs", ERROR,
                         self.request({k: v for k, v in inputs.items() if k != name}))
        first = next(iter(inputs))
        self.add("extra input", "inputs", ERROR, self.request({**inputs, "no_such_input": inputs[first]}))

        def twice(request):
            request.inputs.append(request.inputs[0])
            request.raw_input_contents.append(request.raw_input_contents[0])
        self.add(f"{first}: given twice", "inputs", ERROR, self.edited(inputs, twice))

    def per_input(self) -> None:
        inputs = self.valid()
        for name, spec in self.specs.items():
            array = inputs[name]
            other = _OTHER_DATATYPE.get(spec.datatype, "FP32")
            wrong = _as_datatype(array, other)
            self.add(f"{name}: datatype {other}", "datatype", ERROR, self.request({**inputs, name: wrong}))

            def unknown(request, name=name):
                request.inputs[self.tensor(request, name)].datatype = "FP128"
            self.add(f"{name}: datatype FP128", "datatype", ERROR, self.edited(inputs, unknown))
            self.add(f"{name}: rank + 1", "shape", ERROR, self.request({**inputs, name: array[..., None]}))
            if array.ndim >= 1:
                self.add(f"{name}: rank - 1", "shape", ERROR, self.request({**inputs, name: array[..., 0]}))
                self.add(f"{name}: scalar", "shape", ERROR, self.request({**inputs, name: array.reshape(-1)[0]}))
            for axis, dim in enumerate(spec.shape):
                if dim > 0:
                    grown = np.concatenate([array, np.take(array, [0], axis=axis)], axis=axis)
                    self.add(f"{name}: dimension {axis} is {dim + 1}, fixed at {dim}", "shape", ERROR,
                             self.request({**inputs, name: grown}))
                    break

            def negative(request, name=name):
                tensor = request.inputs[self.tensor(request, name)]
                tensor.shape[-1] = -1
            if array.ndim >= 1:
                self.add(f"{name}: negative dimension", "shape", ERROR, self.edited(inputs, negative))

    def batches(self) -> None:
        if not self.batched:
            return
        one = self.valid(1)
        row_bytes = sum(_nbytes(a) for a in one.values())
        for rows in BATCH_PROBES:
            if rows * row_bytes <= MAX_CASE_BYTES:
                self.add(f"batch of {rows} rows", "batch", ANY, self.request(_repeat(one, rows)))
        rows = -(-BIG_REQUEST_BYTES // max(1, row_bytes))
        declared_bytes = self.meta.properties.get(props.MAX_REQUEST_BYTES)
        big_expect = (ERROR if declared_bytes is None
                      or props.parse_count(props.MAX_REQUEST_BYTES, declared_bytes) < BIG_REQUEST_BYTES else ANY)
        if rows * row_bytes <= MAX_CASE_BYTES:
            self.add(f"about 33 MiB of input ({rows} rows)", "batch", big_expect, self.request(_repeat(one, rows)))
        declared_rows = self.meta.properties.get(props.MAX_REQUEST_ROWS)
        if declared_rows is not None:
            rows = props.parse_count(props.MAX_REQUEST_ROWS, declared_rows) + 1
            if rows * row_bytes <= MAX_CASE_BYTES:
                self.add(f"batch of {rows} rows (max_request_rows {rows - 1})", "batch", ERROR,
                         self.request(_repeat(one, rows)))
        self.add("empty batch (0 rows)", "batch", ANY, self.request({k: v[:0] for k, v in self.valid().items()}))
        inputs = self.valid(2)
        if len(inputs) > 1:
            last = list(inputs)[-1]
            self.add(f"{last}: one more row than the other inputs", "batch", ERROR,
                     self.request({**inputs, last: _repeat({last: inputs[last]}, 3)[last]}))

    def declared_properties(self) -> None:
        inputs = self.valid()
        for name, d in self.declared.items():
            array, spec = inputs[name], self.specs[name]
            if d.range is not None:
                for label, value in _outside(d.range):
                    bad = array.copy()
                    bad.reshape(-1)[-1] = value
                    self.add(f"{name}: value {label}", "range", ERROR, self.request({**inputs, name: bad}))
            for axis, bound in enumerate(d.max_shape):
                if bound and spec.shape[axis] == -1:
                    self.add(f"{name}: dimension {axis} is {bound + 1}, max {bound}", "range", ERROR,
                             self.request(self._resized(inputs, name, axis, bound + 1)))
            for axis, bound in enumerate(d.min_shape):
                if bound and spec.shape[axis] == -1:
                    self.add(f"{name}: dimension {axis} is {bound - 1}, min {bound}", "range", ERROR,
                             self.request(self._resized(inputs, name, axis, bound - 1)))
            if d.shape_as is not None and array.ndim >= 2:
                other = inputs[d.shape_as]
                longer = np.concatenate([other, other[..., -1:]], axis=-1)
                self.add(f"{d.shape_as}: one more column than {name}", "range", ERROR,
                         self.request({**inputs, d.shape_as: longer}))
        self._shared_axes(inputs)

    def _shared_axes(self, inputs: Mapping[str, np.ndarray]) -> None:
        """Inputs with a variable non-batch dimension at the same axis, given different sizes there."""
        names = list(self.specs)
        for axis in range(1, max((len(s.shape) for s in self.meta.inputs), default=0)):
            sharing = [n for n in names if len(self.specs[n].shape) > axis and self.specs[n].shape[axis] == -1]
            if len(sharing) > 1:
                last = sharing[-1]
                size = inputs[last].shape[axis]
                self.add(f"{last}: dimension {axis} differs from {sharing[0]}'s", "range", ANY,
                         self.request(self._resized(inputs, last, axis, size + 1)))

    def _resized(self, inputs: Mapping[str, np.ndarray], name: str, axis: int, size: int) -> dict[str, np.ndarray]:
        """`inputs` with `name` resized to `size` along `axis` (rows repeated from its start)."""
        array = inputs[name]
        reps = -(-size // max(1, array.shape[axis]))
        grown = np.concatenate([array] * max(1, reps), axis=axis)
        return {**inputs, name: np.take(grown, np.arange(size), axis=axis)}

    def contents(self) -> None:
        inputs = self.valid()
        numeric = [n for n, s in self.specs.items() if s.datatype != "BYTES"]

        for name in numeric[:1]:
            def short(request: pb.ModelInferRequest, name: str = name) -> None:
                i = self.tensor(request, name)
                raw = request.raw_input_contents[i]
                size = datatypes.lookup(self.specs[name].datatype).size or 1
                request.raw_input_contents[i] = raw[:max(0, len(raw) - size)]
            self.add(f"{name}: raw contents one element short", "contents", ERROR, self.edited(inputs, short))

        def extra_raw(request):
            request.raw_input_contents.append(request.raw_input_contents[0])
        self.add("more raw contents than inputs", "contents", ERROR, self.edited(inputs, extra_raw))
        fields = {n: datatypes.lookup(s.datatype).contents_field or "" for n, s in self.specs.items()}
        if numeric and all(fields.values()):
            name = numeric[0]
            field = fields[name]
            request = messages.infer_request(self.meta.name, inputs, version=self.version, raw=False)
            getattr(request.inputs[self.tensor(request, name)].contents, field).append(0)
            self.add(f"{name}: typed contents with one element too many", "contents", ERROR, request)

            def both(request):
                i = self.tensor(request, name)
                getattr(request.inputs[i].contents, field).extend([0] * _count(request.inputs[i].shape))
            self.add(f"{name}: raw and typed contents together", "contents", ERROR, self.edited(inputs, both))
        if numeric:
            name = numeric[0]
            words = np.full(inputs[name].shape, b"x", dtype=object)
            self.add(f"{name}: BYTES instead of {self.specs[name].datatype}", "contents", ERROR,
                     self.request({**inputs, name: words}))
        floats = [n for n, s in self.specs.items() if s.datatype in ("FP16", "FP32", "FP64", "BF16")]
        for name in floats[:1]:
            if self.declared[name].range is None:
                bad = inputs[name].copy()
                bad.reshape(-1)[:2] = [np.nan, np.inf][:bad.size]
                self.add(f"{name}: NaN and inf (no declared range)", "contents", ANY,
                         self.request({**inputs, name: bad}))

    def outputs(self) -> None:
        inputs = self.valid()
        self.add("unknown output requested", "outputs", ERROR, self.request(inputs, outputs=["no_such_output"]))
        if self.meta.outputs:
            name = self.meta.outputs[0].name
            self.add("output requested twice", "outputs", ERROR, self.request(inputs, outputs=[name, name]))


def _as_datatype(array: np.ndarray, datatype: str) -> np.ndarray:
    dt = datatypes.lookup(datatype)
    if dt.dtype is None:
        return np.full(array.shape, b"1", dtype=object)
    return np.zeros(array.shape, dtype=dt.dtype.newbyteorder("="))


def _nbytes(array: np.ndarray) -> int:
    if array.dtype.kind == "O":
        return sum(len(e) for e in array.reshape(-1))
    return int(array.nbytes)


def _repeat(inputs: Mapping[str, np.ndarray], rows: int) -> dict[str, np.ndarray]:
    return {k: np.repeat(v[:1], rows, axis=0) for k, v in inputs.items()}


def _count(shape) -> int:
    return int(np.prod(list(shape))) if len(shape) else 1


def _outside(declared: props.ValueRange) -> list[tuple[str, float]]:
    """(label, value) just outside a declared range."""
    if declared.integer:
        return [(f"{declared.lo - 1} below {declared.describe()}", declared.lo - 1),
                (f"{declared.hi} at the top of {declared.describe()}", declared.hi)]
    return [(f"{declared.hi + 1} above {declared.describe()}", declared.hi + 1),
            (f"NaN in {declared.describe()}", float("nan"))]


def corpus(meta: ModelMetadata, *, version: str = "", seed: int = 0) -> list[Case]:
    """Every case for `meta` (names unique, order stable for a seed). Raises ValueError (e.g.
    `client.parity.properties.PropertyError`) when the metadata cannot be read."""
    b = _Builder(meta, version, seed)
    for family in (b.addressing, b.inputs, b.per_input, b.batches, b.declared_properties, b.contents, b.outputs):
        family()
    seen: dict[str, int] = {}
    unique = []
    for case in b.cases:
        n = seen[case.name] = seen.get(case.name, 0) + 1
        unique.append(case if n == 1 else Case(f"{case.name} ({n})", case.family, case.expect, case.request))
    return unique
