"""The requests a load test sends, and the outputs their answers are checked against.

Inputs come from an .npz (arrays keyed by input name; arrays keyed by output name, when present,
are the reference outputs; anything else, such as labels, is ignored) or are generated from the
model's ModelMetadata by the parity suite's generator. The orchestrator builds the pool once and
saves it as a request set (`save_request_set`: every request's input arrays, reference outputs
when known, and the signature), so every target of a comparison gets the same arrays whatever its
kind; each Locust process encodes them for its target's kind up front (`encode`): the load loop
only sends bytes.

Request set (.npz): `in/<i>/<input name>`, `ref/<i>/<output name>` (when known) and `__meta__`
(JSON: name, platform, inputs/outputs as [name, datatype, shape], description, reference_source).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from client.codec import shape_str
from client.messages import ModelMetadata, TensorSpec
from client.parity.generate import InputGenerator, Limits, parse_range
from client.parity.inputs import check_inputs, load_npz
from client.parity.signature import is_batched

GENERATED_POOL = 16  # distinct generated requests, cycled through
MAX_FILE_REQUESTS = 1024  # requests encoded from an inputs file at most


@dataclass
class RequestPool:
    """The requests' input arrays (`inputs`), once encoded for a target `requests`, cycled through
    by the users. `references[i]` holds the expected outputs of request i, from the inputs file,
    or None until the first answer fills it."""

    inputs: list[dict[str, np.ndarray]] = field(default_factory=list)
    requests: list = field(default_factory=list)
    references: list[dict[str, np.ndarray] | None] = field(default_factory=list)
    description: str = ""
    reference_source: str = "first response"

    def __len__(self) -> int:
        return len(self.inputs)

    def encode(self, caller) -> None:
        """Encode every request for one target kind (a loadtests.targets Caller)."""
        self.requests = [caller.encode(x) for x in self.inputs]


def _limits(meta: ModelMetadata) -> Limits:
    """Variable non-batch dimensions: 1..16, or less where `<input>.max_shape` declares less."""
    bound = Limits().max_dim
    for spec in meta.inputs:
        declared = meta.properties.get(f"{spec.name}.max_shape", "")
        for text in declared.split(",")[1:]:
            if text.strip().isdigit() and int(text) > 0:
                bound = min(bound, int(text))
    return Limits(max_dim=bound)


def _ranges(meta: ModelMetadata) -> dict[str, tuple[float, float]]:
    return {spec.name: parse_range(spec, meta.properties[f"{spec.name}.range"])
            for spec in meta.inputs if f"{spec.name}.range" in meta.properties}


def _check_batch_size(meta: ModelMetadata, batch_size: int) -> bool:
    batched = is_batched(meta.inputs)
    if not batched and batch_size != 1:
        raise ValueError(f"model '{meta.name}' takes one sample per request (an input's first dimension "
                         f"is fixed: {', '.join(str(s) for s in meta.inputs)}); use --batch-size 1")
    return batched


def generated_pool(meta: ModelMetadata, batch_size: int, seed: int, version: str = "",
                   size: int = GENERATED_POOL) -> RequestPool:
    batched = _check_batch_size(meta, batch_size)
    generator = InputGenerator(meta.inputs, seed=seed, ranges=_ranges(meta), limits=_limits(meta))
    pool = RequestPool(description=f"generated from ModelMetadata (seed {seed}, {size} distinct requests "
                                   f"of {batch_size} sample{'s' if batch_size > 1 else ''})")
    for _ in range(size):
        pool.inputs.append(dict(generator.batch(batch_size if batched else None)))
        pool.references.append(None)
    return pool


def _references(meta: ModelMetadata, arrays: Mapping[str, np.ndarray], samples: int, path: Path) -> dict:
    refs = {}
    for spec in meta.outputs:
        if spec.name not in arrays:
            continue
        array = np.asarray(arrays[spec.name])
        if array.ndim != len(spec.shape) or array.shape[0] != samples:
            raise ValueError(f"inputs file {path}: reference output '{spec.name}' is {shape_str(array.shape)}; "
                             f"expected {samples} samples of {spec} along axis 0")
        refs[spec.name] = array
    return refs


def file_pool(meta: ModelMetadata, path: str | Path, batch_size: int, version: str = "") -> RequestPool:
    """Requests of `batch_size` consecutive samples of the file (wrapping around at its end)."""
    path = Path(path)
    arrays, _ = load_npz(path, None)
    input_names = {s.name for s in meta.inputs}
    inputs = {k: v for k, v in arrays.items() if k in input_names}
    batched = _check_batch_size(meta, batch_size)
    samples, stacked = check_inputs(inputs, meta.inputs, batched, source=f"inputs file {path}")
    refs = _references(meta, arrays, samples, path) if batched or stacked else {}
    count = min(MAX_FILE_REQUESTS, max(1, samples // batch_size))
    pool = RequestPool(description=f"{path.name} ({samples} samples, {count} distinct requests)",
                       reference_source="inputs file" if refs else "first response")
    for i in range(count):
        rows = (np.arange(batch_size) + i * batch_size) % samples
        if batched:
            chosen = {k: np.asarray(v)[rows] for k, v in inputs.items()}
        elif stacked:
            chosen = {k: np.asarray(v)[i % samples] for k, v in inputs.items()}
        else:
            chosen = dict(inputs)
        pool.inputs.append(chosen)
        if refs and batched:
            pool.references.append({k: v[rows] for k, v in refs.items()})
        elif refs:
            pool.references.append({k: v[i % samples] for k, v in refs.items()})
        else:
            pool.references.append(None)
    return pool


def build_pool(meta: ModelMetadata, *, batch_size: int, inputs: str = "", seed: int = 0,
               version: str = "") -> RequestPool:
    """The pool for a load test; ValueError saying what does not fit the model's signature."""
    if inputs:
        return file_pool(meta, inputs, batch_size, version)
    return generated_pool(meta, batch_size, seed, version)


def _meta_doc(meta: ModelMetadata) -> dict:
    return {"name": meta.name, "platform": meta.platform,
            "inputs": [[s.name, s.datatype, list(s.shape)] for s in meta.inputs],
            "outputs": [[s.name, s.datatype, list(s.shape)] for s in meta.outputs],
            "properties": dict(meta.properties)}


def meta_from_doc(doc: Mapping) -> ModelMetadata:
    return ModelMetadata(name=doc["name"], versions=(), platform=doc.get("platform", ""),
                         inputs=tuple(TensorSpec(n, d, tuple(s)) for n, d, s in doc["inputs"]),
                         outputs=tuple(TensorSpec(n, d, tuple(s)) for n, d, s in doc["outputs"]),
                         properties=dict(doc.get("properties") or {}))


def _storable(array) -> np.ndarray:
    array = np.asarray(array)
    return array.astype(np.bytes_) if array.dtype == object else array  # BYTES without pickling


def save_request_set(pool: RequestPool, meta: ModelMetadata, path: str | Path) -> Path:
    """Write the pool's arrays (and references, when known) with the signature; see the module doc."""
    arrays: dict[str, np.ndarray] = {}
    for i, (inputs, ref) in enumerate(zip(pool.inputs, pool.references)):
        arrays.update({f"in/{i}/{k}": _storable(v) for k, v in inputs.items()})
        arrays.update({f"ref/{i}/{k}": _storable(v) for k, v in (ref or {}).items()})
    doc = {**_meta_doc(meta), "description": pool.description, "reference_source": pool.reference_source,
           "count": len(pool.inputs)}
    arrays["__meta__"] = np.array(json.dumps(doc))
    path = Path(path)
    with path.open("wb") as f:
        # mypy matches **arrays against savez's allow_pickle: bool too; no key here is that name
        np.savez(f, **arrays)  # type: ignore[arg-type]
    return path


def load_request_set(path: str | Path) -> tuple[RequestPool, ModelMetadata]:
    """The pool and signature saved by `save_request_set`; ValueError when it is not one."""
    try:
        with np.load(path, allow_pickle=False) as z:
            doc = json.loads(str(z["__meta__"]))
            pool = RequestPool(description=doc["description"], reference_source=doc["reference_source"])
            for i in range(int(doc["count"])):
                pool.inputs.append({k.split("/", 2)[2]: z[k] for k in z.files if k.startswith(f"in/{i}/")})
                ref = {k.split("/", 2)[2]: z[k] for k in z.files if k.startswith(f"ref/{i}/")}
                pool.references.append(ref or None)
    except (OSError, KeyError, ValueError) as e:
        raise ValueError(f"request set {path}: not readable ({e})") from None
    return pool, meta_from_doc(doc)
