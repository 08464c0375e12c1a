"""A model's declared signature: the one parser of the `tensors:` section both services' model
configs hold (torch_service's model-config.yaml, tf_service's model.yaml), checking decoded
requests against it, and picking outputs.

    tensors:
      inputs:  [{name: x, datatype: FP32, shape: [-1, 64]}]    # -1 = variable
      outputs: [{name: y, datatype: FP32, shape: [-1, 10]}]
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np

from client.codec import shape_str
from client.datatypes import PROTOCOL_DATATYPES, datatype_of
from client.messages import TensorSpec

from .errors import InvalidArgument

_NAME = re.compile(r"^[A-Za-z0-9_.\-:/]{1,128}$")
_FIELDS = ("name", "datatype", "shape")
EXAMPLE = "[{name: x, datatype: FP32, shape: [-1, 64]}]"


def parse_tensors(items, where: str, kind: str, *, extra_fields: Sequence[str] = (),
                  error: type[Exception] = ValueError) -> list[tuple[TensorSpec, dict]]:
    """The `tensors.<kind>` list of a model config (`where` names the file): one (TensorSpec, extra
    fields given) per tensor. Raises `error` naming the file, the tensor and what was expected."""
    fields = _FIELDS + tuple(extra_fields)
    allowed = ", ".join(fields[:-1]) + " and " + fields[-1]
    if not isinstance(items, list) or not items:
        raise error(f"{where}: tensors.{kind} must be a non-empty list like {EXAMPLE}")
    parsed = []
    for i, item in enumerate(items):
        label = f"{where}: tensors.{kind}[{i}]"
        if not isinstance(item, Mapping):
            raise error(f"{label}: expected a mapping with {allowed}, got {item!r}")
        unknown = set(item) - set(fields)
        if unknown:
            raise error(f"{label}: unknown field(s) {', '.join(sorted(map(str, unknown)))}; a tensor is a mapping "
                        f"with exactly {allowed}")
        name, datatype, shape = item.get("name"), item.get("datatype"), item.get("shape")
        if not isinstance(name, str) or not _NAME.match(name):
            raise error(f"{label}: 'name' must be a tensor name (letters, digits, _ . - : /), got {name!r}")
        label = f"{label} ({name})"
        if datatype not in PROTOCOL_DATATYPES:
            raise error(f"{label}: datatype {datatype!r} is not one of {', '.join(PROTOCOL_DATATYPES)}")
        if not isinstance(shape, list) or any(isinstance(d, bool) or not isinstance(d, int) or d < -1 for d in shape):
            raise error(f"{label}: field 'shape' is not valid: the shape must be a list of integers >= -1 "
                        f"(-1 = variable), got {shape!r}")
        parsed.append((TensorSpec(name, datatype, tuple(shape)), {k: item[k] for k in extra_fields if k in item}))
    names = [spec.name for spec, _ in parsed]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise error(f"{where}: tensors.{kind}: duplicate name(s): {', '.join(dupes)}; names must be unique")
    return parsed


def _signature(specs: Sequence[TensorSpec]) -> str:
    return ", ".join(str(s) for s in specs)


def shape_matches(declared: Sequence[int], actual: Sequence[int]) -> bool:
    return len(declared) == len(actual) and all(d in (-1, a) for d, a in zip(declared, actual))


def check_inputs(model: str, specs: Sequence[TensorSpec], inputs: Mapping[str, np.ndarray]) -> None:
    """Raise InvalidArgument naming the tensor and the expected signature on any mismatch."""
    expected = {s.name: s for s in specs}
    for name in inputs:
        if name not in expected:
            raise InvalidArgument(f"model '{model}' has no input '{name}'; expected inputs: {_signature(specs)}")
    for spec in specs:
        if spec.name not in inputs:
            raise InvalidArgument(f"model '{model}': missing input '{spec.name}'; expected inputs: "
                                  f"{_signature(specs)}")
        array = inputs[spec.name]
        datatype = datatype_of(array)
        if datatype != spec.datatype or not shape_matches(spec.shape, array.shape):
            raise InvalidArgument(f"input '{spec.name}': expected {spec.datatype} {shape_str(spec.shape)}, "
                                  f"got {datatype} {shape_str(array.shape)}")


def check_requested_outputs(model: str, specs: Sequence[TensorSpec], requested: Sequence[str]) -> None:
    names = [s.name for s in specs]
    for name in requested:
        if name not in names:
            raise InvalidArgument(f"model '{model}' has no output '{name}'; outputs: {', '.join(names)}")


def select_outputs(outputs: Mapping[str, np.ndarray], requested: Sequence[str]) -> dict[str, np.ndarray]:
    """The requested outputs in the requested order (all, in model order, when none requested)."""
    if not requested:
        return dict(outputs)
    return {name: outputs[name] for name in requested}
