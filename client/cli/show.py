"""How the command line prints arrays, metadata and health answers."""

from __future__ import annotations

import numpy as np

from ..codec import shape_str
from ..datatypes import datatype_of
from ..messages import ModelMetadata


def _values(array: np.ndarray, full: bool) -> str:
    if array.dtype.kind == "O":
        items = [v.decode("utf-8", "backslashreplace") if isinstance(v, bytes) else v
                 for v in array.reshape(-1).tolist()]
        array = np.array(items, dtype=object).reshape(array.shape)
    threshold = np.iinfo(np.int64).max if full else 64
    return np.array2string(array, precision=6, threshold=threshold, edgeitems=3, max_line_width=100)


def format_array(name: str, array: np.ndarray, full: bool = False) -> str:
    """`name: DATATYPE [shape]`, numeric statistics, then the values (summarized unless `full`)."""
    lines = [f"{name}: {datatype_of(array)} {shape_str(array.shape)}"]
    if array.size and datatype_of(array) != "BYTES":
        values = array.astype(np.float64)
        finite = values[np.isfinite(values)]
        if finite.size:
            lines.append(f"  min {finite.min():.6g}  max {finite.max():.6g}  mean {finite.mean():.6g}  "
                         f"std {finite.std():.6g}")
        if finite.size != values.size:
            lines.append(f"  {values.size - finite.size} non-finite values")
        if array.ndim >= 2 and array.dtype.kind not in "biu":
            top = np.argmax(values.reshape(array.shape[0], -1), axis=1)
            if top.size <= 16:
                lines.append(f"  argmax per row: {top.tolist()}")
    body = _values(array, full)
    lines.extend("  " + line for line in body.splitlines())
    return "\n".join(lines)


def format_model(meta: ModelMetadata) -> str:
    lines = [f"model: {meta.name}", f"versions: {', '.join(meta.versions) or '-'}",
             f"platform: {meta.platform or '-'}"]
    for title, specs in (("inputs", meta.inputs), ("outputs", meta.outputs)):
        lines.append(f"{title}:")
        width = max((len(s.name) for s in specs), default=0)
        lines.extend(f"  {s.name.ljust(width)}  {s.datatype:<6} {shape_str(s.shape)}" for s in specs)
    if meta.properties:
        lines.append("properties:")
        lines.extend(f"  {k}: {v}" for k, v in sorted(meta.properties.items()))
    return "\n".join(lines)


def model_dict(meta: ModelMetadata) -> dict:
    def rows(specs):
        return [{"name": s.name, "datatype": s.datatype, "shape": list(s.shape)} for s in specs]
    return {"name": meta.name, "versions": list(meta.versions), "platform": meta.platform,
            "inputs": rows(meta.inputs), "outputs": rows(meta.outputs), "properties": dict(meta.properties)}


def yes_no(value) -> str:
    return "unknown" if value is None else ("yes" if value else "no")
