"""run_parity: send identical inputs to two OIP v2 servers and measure how close the answers are."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import cast

import numpy as np

from ..codec import CodecError
from ..errors import InferenceError, NotFoundError, UnavailableError
from ..messages import ModelMetadata
from ..sync import InferenceClient
from . import inputs as inputs_mod
from .compare import Classification, OutputDiff
from .errors import ParityError
from .generate import InputGenerator, Limits, parse_range
from .report import ParityReport, Side
from .signature import (
    CLASSIFICATION_PROPERTY,
    is_batched,
    property_of,
    signature_dict,
    signature_differences,
)


def _describe_failure(e: InferenceError, model: str, what: str) -> str:
    if isinstance(e, NotFoundError):
        return f"model '{model}' not found: {e.message}"
    if isinstance(e, UnavailableError):
        return f"{what} failed, server unreachable or model not ready: {e.message}"
    return f"{what} failed: {e.code.name}: {e.message}"


class _Endpoint:
    """One side: its client, the model/version asked for, and the time spent inferring."""

    def __init__(self, side: Side, client: InferenceClient):
        self.side = side
        self.client = client

    def metadata(self) -> ModelMetadata:
        s = self.side
        try:
            meta = self.client.model_metadata(s.model, s.version or None)
        except InferenceError as e:
            raise ParityError(_describe_failure(e, s.model, "ModelMetadata"), s.label, s.url) from None
        s.platform, s.versions = meta.platform, tuple(meta.versions)
        return meta

    def infer(self, batch: inputs_mod.Batch, output_names: list[str]) -> dict[str, np.ndarray]:
        s = self.side
        t0 = time.perf_counter()
        try:
            outputs = self.client.infer(s.model, batch.inputs, version=s.version or None)
        except InferenceError as e:
            last = batch.offset + batch.rows - 1
            what = f"ModelInfer of samples {batch.offset}..{last}"
            raise ParityError(_describe_failure(e, s.model, what), s.label, s.url) from None
        except CodecError as e:  # the server's answer does not decode
            raise ParityError(f"malformed ModelInfer answer: {e}", s.label, s.url) from None
        finally:
            s.infer_seconds += time.perf_counter() - t0
        missing = [n for n in output_names if n not in outputs]
        if missing:
            raise ParityError(f"the answer lacks declared output(s) {', '.join(missing)} "
                              f"(got {', '.join(outputs) or 'none'})", s.label, s.url)
        return outputs


def _classification_output(explicit: str | None, a: ModelMetadata, b: ModelMetadata,
                           notes: list[str]) -> str | None:
    name: str | None
    if explicit is not None:
        name, where = explicit, "classification_output given"
    else:
        name, note = property_of(CLASSIFICATION_PROPERTY, a, b)
        if note:
            notes.append(note)
        where = f"model property '{CLASSIFICATION_PROPERTY}'"
    if name is not None and name not in {o.name for o in a.outputs}:
        outputs = ", ".join(o.name for o in a.outputs)
        raise ParityError(f"{where} names '{name}', which is not an output of the model (outputs: {outputs})")
    return name


def _ranges(meta_a: ModelMetadata, meta_b: ModelMetadata, overrides: Mapping[str, object],
            notes: list[str]) -> dict[str, tuple[float, float]]:
    specs = {s.name: s for s in meta_a.inputs}
    unknown = sorted(set(overrides) - set(specs))
    if unknown:
        raise ParityError(f"range given for unknown input(s) {', '.join(unknown)}; inputs: {', '.join(specs)}")
    ranges = {}
    for name, spec in specs.items():
        text = overrides.get(name)
        if text is None:
            text, note = property_of(f"{name}.range", meta_a, meta_b)
            if note:
                notes.append(note)
        if text is None:
            continue
        if not isinstance(text, str):
            text = ",".join(str(v) for v in cast(Iterable[object], text))  # e.g. a (lo, hi) pair
        try:
            ranges[name] = parse_range(spec, text)
        except ValueError as e:
            raise ParityError(str(e)) from None
    return ranges


def run_parity(a: str | InferenceClient, b: str | InferenceClient, model: str, *,
               model_b: str | None = None, version: str | None = None, version_a: str | None = None,
               version_b: str | None = None, inputs: str | Path | Mapping[str, np.ndarray] | None = None,
               labels: np.ndarray | None = None, labels_key: str = "labels", samples: int = 64, seed: int = 0,
               batch_size: int = 16, atol: float = 1e-4, rtol: float = 1e-3,
               ranges: Mapping[str, object] | None = None, limits: Limits | None = None,
               classification_output: str | None = None, min_top1_agreement: float | None = None,
               client_options: Mapping[str, object] | None = None) -> ParityReport:
    """Compare `model` on servers `a` and `b` (HOST:PORT, or an open InferenceClient).

    `inputs`: an .npz path (its `labels_key` array, if any, becomes the labels), a mapping of
    arrays, or None to generate `samples` samples from the signature with `seed`. `client_options`
    (timeout, token, tls, root_certificates, ...) apply to both sides opened from a URL.

    Returns a ParityReport (`.passed`, `.exit_code` 0/1, `.to_json()`); raises ParityError when
    parity cannot be measured (a side down or lacking the model, different signatures, inputs not
    matching the signature) and ValueError for invalid arguments.
    """
    if batch_size < 1 or samples < 1:
        raise ValueError(f"batch_size and samples must be >= 1, got {batch_size} and {samples}")
    if atol < 0 or rtol < 0:
        raise ValueError(f"atol and rtol must be >= 0, got {atol} and {rtol}")
    notes: list[str] = []
    with contextlib.ExitStack() as stack:
        ends = []
        for label, target, name, ver in (("A", a, model, version_a), ("B", b, model_b or model, version_b)):
            if isinstance(target, (str, Path)):
                client = stack.enter_context(InferenceClient(str(target), **dict(client_options or {})))
            else:
                client = target
            ends.append(_Endpoint(Side(label, client.settings.url, name, ver or version or ""), client))
        end_a, end_b = ends
        meta_a, meta_b = end_a.metadata(), end_b.metadata()
        diffs = signature_differences(meta_a, meta_b)
        if diffs:
            raise ParityError("the two signatures differ: " + "; ".join(diffs))
        batched = is_batched(meta_a.inputs)
        class_output = _classification_output(classification_output, meta_a, meta_b, notes)
        if not batched:
            notes.append("the model has no variable first dimension on every input: one sample per request")
        batches, info, labels = _plan(meta_a, meta_b, inputs, labels, labels_key, samples, seed, batch_size,
                                      batched, ranges or {}, limits, notes)
        if labels is not None and class_output is None:
            notes.append("labels ignored: the model declares no classification output "
                         f"(property '{CLASSIFICATION_PROPERTY}'); pass classification_output")
            labels = None
        info["labels"] = labels is not None
        diffs_by_name = {o.name: OutputDiff(o.name, o.datatype, atol, rtol) for o in meta_a.outputs}
        classification = Classification(class_output) if class_output else None
        output_names = list(diffs_by_name)
        requests = 0
        pool = stack.enter_context(ThreadPoolExecutor(max_workers=2, thread_name_prefix="parity"))
        for batch in batches:
            fa = pool.submit(end_a.infer, batch, output_names)
            fb = pool.submit(end_b.infer, batch, output_names)
            out_a, out_b = fa.result(), fb.result()
            requests += 1
            for name, diff in diffs_by_name.items():
                diff.add(out_a[name], out_b[name], batch.offset, batch.rows)
            if classification is not None:
                classification.add(out_a[classification.output], out_b[classification.output],
                                   batch.offset, batch.rows, labels)
    info["requests"] = requests
    return ParityReport(end_a.side, end_b.side, atol, rtol, info, signature_dict(meta_a),
                        list(diffs_by_name.values()), classification, min_top1_agreement, notes)


def _plan(meta_a, meta_b, inputs, labels, labels_key, samples, seed, batch_size, batched, ranges, limits,
          notes):
    """(iterator of Batch, the report's "inputs" section, labels or None)."""
    specs = meta_a.inputs
    info = {"source": "generated", "path": None, "seed": None, "samples": samples,
            "batch_size": batch_size if batched else 1}
    if inputs is None:
        try:
            generator = InputGenerator(specs, seed=seed, ranges=_ranges(meta_a, meta_b, ranges, notes),
                                       limits=limits)
        except ValueError as e:
            raise ParityError(str(e)) from None
        info["seed"] = seed
        if labels is not None:
            raise ParityError("labels were given without inputs; labels need the inputs they belong to")
        return inputs_mod.generated_batches(generator, samples, batched, batch_size), info, None
    if ranges:
        notes.append("ranges apply to generated inputs only; ignored with given inputs")
    if isinstance(inputs, (str, Path)):
        source = f"inputs file {inputs}"
        try:
            arrays, file_labels = inputs_mod.load_npz(inputs, labels_key, [s.name for s in specs])
        except ValueError as e:
            raise ParityError(str(e)) from None
        labels = file_labels if labels is None else labels
        info.update(source="file", path=str(inputs))
    else:
        source, arrays = "inputs", dict(inputs)
        info["source"] = "arrays"
    try:
        count, stacked = inputs_mod.check_inputs(arrays, specs, batched, source)
        if labels is not None:
            labels = inputs_mod.check_labels(labels, count, source)
    except ValueError as e:
        raise ParityError(str(e)) from None
    info["samples"] = count
    return inputs_mod.file_batches(arrays, count, batched, stacked, batch_size), info, labels
