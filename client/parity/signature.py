"""Comparing the two sides' ModelMetadata, and what a signature says about batching."""

from __future__ import annotations

from collections.abc import Sequence

from ..codec import shape_str
from ..messages import ModelMetadata, TensorSpec

CLASSIFICATION_PROPERTY = "classification_output"


def _describe(spec: TensorSpec) -> str:
    return f"{spec.datatype} {shape_str(spec.shape)}"


def _compare_specs(kind: str, a: Sequence[TensorSpec], b: Sequence[TensorSpec]) -> list[str]:
    by_a = {s.name: s for s in a}
    by_b = {s.name: s for s in b}
    diffs = []
    for name, spec in by_a.items():
        if name not in by_b:
            diffs.append(f"{kind} '{name}' ({_describe(spec)}) exists on A only")
    for name, spec in by_b.items():
        if name not in by_a:
            diffs.append(f"{kind} '{name}' ({_describe(spec)}) exists on B only")
    for name, sa in by_a.items():
        sb = by_b.get(name)
        if sb is None:
            continue
        if sa.datatype != sb.datatype or tuple(sa.shape) != tuple(sb.shape):
            diffs.append(f"{kind} '{name}': {_describe(sa)} on A, {_describe(sb)} on B")
    return diffs


def signature_differences(a: ModelMetadata, b: ModelMetadata) -> list[str]:
    """Every difference in input/output names, datatypes and shapes (order of tensors is ignored:
    OIP v2 tensors are matched by name). Empty when the two signatures are the same."""
    return _compare_specs("input", a.inputs, b.inputs) + _compare_specs("output", a.outputs, b.outputs)


def is_batched(inputs: Sequence[TensorSpec]) -> bool:
    """True when every input's first dimension is variable (-1): samples are stacked along axis 0
    and several go in one request. Otherwise each request carries exactly one sample."""
    return bool(inputs) and all(len(s.shape) >= 1 and s.shape[0] == -1 for s in inputs)


def signature_dict(meta: ModelMetadata) -> dict:
    def rows(specs):
        return [{"name": s.name, "datatype": s.datatype, "shape": list(s.shape)} for s in specs]
    return {"inputs": rows(meta.inputs), "outputs": rows(meta.outputs)}


def property_of(key: str, a: ModelMetadata, b: ModelMetadata) -> tuple[str | None, str | None]:
    """(value, note): A's value of a model property, else B's; the note says when they disagree."""
    va, vb = a.properties.get(key), b.properties.get(key)
    note = None
    if va is not None and vb is not None and va != vb:
        note = f"property '{key}' differs: {va!r} on A, {vb!r} on B; using A's"
    return (va if va is not None else vb), note
