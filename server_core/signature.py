"""Checking decoded requests against a model's declared signature, and picking outputs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from client.codec import shape_str
from client.datatypes import datatype_of
from client.messages import TensorSpec

from .errors import InvalidArgument


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
