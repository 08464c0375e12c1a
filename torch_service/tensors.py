"""numpy <-> torch for handlers. BYTES tensors stay numpy object arrays (torch has no strings);
BF16 travels as ml_dtypes.bfloat16 in numpy and torch.bfloat16 in torch."""

from __future__ import annotations

import numpy as np
import torch

from client.datatypes import DATATYPES

_BF16_NUMPY = DATATYPES["BF16"].dtype if "BF16" in DATATYPES else None  # None without ml_dtypes
_BF16 = _BF16_NUMPY.newbyteorder("=") if _BF16_NUMPY is not None else None


def is_bytes(array: np.ndarray) -> bool:
    return array.dtype.kind in "OSU"


def to_torch(array: np.ndarray, device: torch.device | str = "cpu"):
    """A tensor holding `array` on `device` (BYTES arrays are returned as they are).
    Read-only arrays (raw request contents are views of the message) are copied first, so a
    model writing into its input cannot touch the request's bytes."""
    if is_bytes(array):
        return array
    if _BF16 is not None and array.dtype == _BF16:
        tensor = torch.from_numpy(np.array(array, copy=True).view(np.int16)).view(torch.bfloat16)
    else:
        if not array.flags.writeable or not array.dtype.isnative or not array.flags.c_contiguous:
            array = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("=")).copy()
        tensor = torch.from_numpy(array)
    if device == "cpu" or (isinstance(device, torch.device) and device.type == "cpu"):
        return tensor
    return tensor if torch.device(device).type == "cpu" else tensor.to(device, non_blocking=False)


def to_numpy(value) -> np.ndarray:
    """A numpy array for a model output (tensor on any device, numpy array, or nested list)."""
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, torch.Tensor):
        tensor = value.detach()
        if tensor.device.type != "cpu":
            tensor = tensor.cpu()
        if tensor.dtype == torch.bfloat16:
            if _BF16 is None:  # pragma: no cover - ml_dtypes ships with the server extras
                raise TypeError("a BF16 output needs the ml_dtypes package")
            return tensor.contiguous().view(torch.int16).numpy().view(_BF16)
        return tensor.numpy()
    if isinstance(value, (list, tuple, int, float, bool, bytes, str)):
        return np.asarray(value, dtype=object if _has_text(value) else None)
    raise TypeError(f"cannot turn a {type(value).__name__} into a tensor")


def _has_text(value) -> bool:
    if isinstance(value, (bytes, str)):
        return True
    if isinstance(value, (list, tuple)):
        return any(_has_text(v) for v in value)
    return False
