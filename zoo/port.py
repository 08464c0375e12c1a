"""Porting PyTorch weights into a Keras twin, layer by layer.

The Keras layers are named after the PyTorch module paths (`layer2.0.downsample.0`,
`encoder.layer.1.attention.self.query`), and each Keras layer type has one mapping rule from the
PyTorch tensors of the module with that name:

| Keras layer          | PyTorch module | mapping                                                       |
|----------------------|----------------|---------------------------------------------------------------|
| Dense                | Linear         | kernel = weight.T ([out, in] -> [in, out]); bias              |
| EinsumDense          | Linear         | kernel = weight.T reshaped per head: query/key/value          |
|                      |                | [in, heads, head_dim], attention output [heads, head_dim, out]|
| Conv2D               | Conv2d         | kernel = weight OIHW -> HWIO; bias if any                     |
| BatchNormalization   | BatchNorm2d    | gamma, beta = weight, bias; moving_mean/variance = running_*  |
| LayerNormalization   | LayerNorm      | gamma, beta = weight, bias                                    |
| Embedding, PositionEmbedding | Embedding | embeddings = weight                                       |
| Standardize          | Standardize    | mean, std buffers                                             |

The state dict is plain numpy (`{path.param: array}`), so this runs without torch. Every Keras weight
must be assigned and every PyTorch tensor used (BatchNorm's `num_batches_tracked` excepted), with
matching shapes; otherwise PortError says which layer and what differs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # only for annotations: the rules themselves need no TensorFlow
    import keras

IGNORED_SUFFIXES = (".num_batches_tracked",)


class PortError(ValueError):
    """The PyTorch state dict and the Keras model do not line up."""


def linear_to_dense(weight: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Linear.weight [out, in] -> Dense.kernel [in, out] (or its per-head reshape for EinsumDense).

    The reshape is row-major, which splits PyTorch's `out` axis into (heads, head_dim) exactly as the
    model's `view(B, T, heads, head_dim)` does, and its `in` axis likewise for the output projection."""
    if weight.ndim != 2:
        raise PortError(f"expected a 2-D Linear weight, got shape {weight.shape}")
    kernel = weight.T
    fan_in, fan_out = kernel.shape
    splits_out = shape[0] == fan_in and int(np.prod(shape[1:])) == fan_out  # [in, heads, head_dim]
    splits_in = shape[-1] == fan_out and int(np.prod(shape[:-1])) == fan_in  # [heads, head_dim, out]
    if not (splits_out or splits_in):
        raise PortError(f"Linear weight [out, in] = {list(weight.shape)} does not map onto kernel {list(shape)}")
    return kernel.reshape(shape)


def conv_oihw_to_hwio(weight: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    if weight.ndim != 4:
        raise PortError(f"expected a 4-D Conv2d weight (OIHW), got shape {weight.shape}")
    return weight.transpose(2, 3, 1, 0)


def same(value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return value


def reshaped(value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    if value.size != int(np.prod(shape)):
        raise PortError(f"cannot reshape {value.shape} to {shape}")
    return value.reshape(shape)


Transform = Callable[[np.ndarray, tuple[int, ...]], np.ndarray]
# Keras layer class name -> [(Keras weight attribute, PyTorch tensor name, transform)]
RULES: dict[str, list[tuple[str, str, Transform]]] = {
    "Dense": [("kernel", "weight", linear_to_dense), ("bias", "bias", same)],
    "EinsumDense": [("kernel", "weight", linear_to_dense), ("bias", "bias", reshaped)],
    "Conv2D": [("kernel", "weight", conv_oihw_to_hwio), ("bias", "bias", same)],
    "BatchNormalization": [("gamma", "weight", same), ("beta", "bias", same),
                           ("moving_mean", "running_mean", same), ("moving_variance", "running_var", same)],
    "LayerNormalization": [("gamma", "weight", same), ("beta", "bias", same)],
    "Embedding": [("embeddings", "weight", same)],
    "PositionEmbedding": [("embeddings", "weight", same)],
    "Standardize": [("mean", "mean", same), ("std", "std", same)],
}


def plan(state_dict: Mapping[str, np.ndarray], model) -> list[tuple[keras.Variable, str, np.ndarray]]:
    """[(Keras variable, PyTorch key, value in Keras layout)] for every weight of the model; raises
    PortError on an unknown layer type, a missing or extra tensor, or a shape mismatch."""
    used: set[str] = set()
    assignments = []
    for layer in model.layers:
        if not layer.weights:
            continue
        kind = type(layer).__name__
        if kind not in RULES:
            raise PortError(f"layer '{layer.name}': no porting rule for Keras {kind}")
        covered = set()
        for attr, param, transform in RULES[kind]:
            variable = getattr(layer, attr, None)
            if variable is None:  # e.g. a Conv2D without bias
                continue
            key = f"{layer.name}.{param}"
            if key not in state_dict:
                raise PortError(f"layer '{layer.name}' ({kind}): the PyTorch state dict has no '{key}'")
            value = np.asarray(transform(np.asarray(state_dict[key]), tuple(variable.shape)))
            if tuple(value.shape) != tuple(variable.shape):
                raise PortError(f"layer '{layer.name}' ({kind}) {attr}: PyTorch '{key}' "
                                f"{tuple(np.shape(state_dict[key]))} maps to {tuple(value.shape)}, "
                                f"Keras expects {tuple(variable.shape)}")
            assignments.append((variable, key, value))
            covered.add(id(variable))
            used.add(key)
        missed = [w.path for w in layer.weights if id(w) not in covered]
        if missed:
            raise PortError(f"layer '{layer.name}' ({kind}): Keras weights {missed} have no PyTorch source")
    unused = sorted(k for k in state_dict if k not in used and not k.endswith(IGNORED_SUFFIXES))
    if unused:
        raise PortError(f"PyTorch tensors with no Keras layer of the same name: {', '.join(unused)}")
    return assignments


def port(state_dict: Mapping[str, np.ndarray], model) -> list[str]:
    """Assign every Keras weight of `model` from the PyTorch `state_dict`; returns the keys used."""
    assignments = plan(state_dict, model)
    for variable, _, value in assignments:
        variable.assign(value.astype(variable.dtype, copy=False))
    return [key for _, key, _ in assignments]
