"""The samples sent to both sides: read from an .npz file and checked against the signature, or
generated; either way cut into requests of at most `batch_size` samples."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..codec import shape_str
from ..datatypes import datatype_of
from ..messages import TensorSpec
from .generate import InputGenerator


@dataclass(frozen=True)
class Batch:
    offset: int  # index of the batch's first sample
    rows: int  # samples in this request
    inputs: dict[str, np.ndarray]


def load_npz(path: str | Path, labels_key: str | None, input_names: Sequence[str] = ()):
    """({name: array}, labels or None) from an .npz file. `labels_key` is taken out as labels
    unless the model has an input of that name."""
    path = Path(path)
    try:
        loaded = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ValueError(f"inputs file {path} does not exist") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"inputs file {path} is not a readable .npz archive ({e})") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        problem = f"inputs file {path} holds a single array; expected an .npz archive with one array per input"
        raise ValueError(problem + " (numpy.savez)")  # noqa: TRY004 - a file's content, not a caller's type
    arrays = {}
    with loaded as data:
        for key in data.files:
            try:
                arrays[key] = data[key]
            except ValueError as e:  # object arrays need pickle, which we refuse
                raise ValueError(f"inputs file {path}: array '{key}' cannot be read ({e}); store BYTES "
                                 "inputs as fixed-width bytes (dtype 'S') or str ('U')") from None
    if not arrays:
        raise ValueError(f"inputs file {path} holds no arrays")
    labels = None
    if labels_key and labels_key in arrays and labels_key not in input_names:
        labels = arrays.pop(labels_key)
    return arrays, labels


def _fits(spec: TensorSpec, shape: Sequence[int]) -> bool:
    return len(spec.shape) == len(shape) and all(d in (-1, s) for d, s in zip(spec.shape, shape))


def check_inputs(arrays: Mapping[str, np.ndarray], specs: Sequence[TensorSpec], batched: bool,
                 source: str = "inputs") -> tuple[int, bool]:
    """(number of samples, stacked) for arrays meant for a model with these inputs; ValueError with
    what differs otherwise. Batched models take arrays with the samples along axis 0. Unbatched
    models take one request's tensors as declared, or N of them stacked on a new axis 0 (stacked)."""
    expected = ", ".join(str(s) for s in specs)
    names = {s.name for s in specs}
    extra = sorted(set(arrays) - names)
    missing = [s.name for s in specs if s.name not in arrays]
    if extra or missing:
        parts = ([f"unexpected array(s) {', '.join(extra)}"] if extra else []) + \
                ([f"missing input(s) {', '.join(missing)}"] if missing else [])
        raise ValueError(f"{source}: {'; '.join(parts)}; the model expects {expected}")
    counts: dict[str, int] = {}
    layouts: dict[str, str] = {}
    for spec in specs:
        array = np.asarray(arrays[spec.name])
        try:
            datatype = datatype_of(array)
        except TypeError:
            datatype = f"numpy {array.dtype}"
        what = f"{source}: array '{spec.name}' is {datatype} {shape_str(array.shape)}"
        if datatype != spec.datatype:
            raise ValueError(f"{what}, the model expects {spec}")
        if batched and _fits(spec, array.shape):
            layouts[spec.name], counts[spec.name] = "batch", array.shape[0]
        elif not batched and _fits(spec, array.shape):
            layouts[spec.name], counts[spec.name] = "single", 1
        elif not batched and array.ndim >= 1 and _fits(spec, array.shape[1:]):
            layouts[spec.name], counts[spec.name] = "stacked", array.shape[0]
        else:
            layout = " (samples along axis 0)" if batched else " (or that with a leading axis of samples)"
            raise ValueError(f"{what}, the model expects {spec}{layout}")
    if len(set(layouts.values())) > 1:
        raise ValueError(f"{source}: some arrays are single requests and some hold stacked samples; "
                         f"expected one layout for all of {expected}")
    if len(set(counts.values())) > 1:
        listed = ", ".join(f"{k}: {v}" for k, v in counts.items())
        raise ValueError(f"{source}: arrays hold different numbers of samples ({listed}); expected the "
                         "same count along axis 0")
    stacked = "stacked" in layouts.values()
    samples = next(iter(counts.values()))
    if samples == 0:
        raise ValueError(f"{source}: holds 0 samples")
    return samples, stacked


def check_labels(labels: np.ndarray, samples: int, source: str = "inputs") -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or labels.shape[0] != samples or labels.dtype.kind not in "iub":
        raise ValueError(f"{source}: labels are {labels.dtype} {shape_str(labels.shape)}; expected "
                         f"{samples} integer class indices (one per sample)")
    return labels.astype(np.int64)


def file_batches(arrays: Mapping[str, np.ndarray], samples: int, batched: bool, stacked: bool,
                 batch_size: int) -> Iterator[Batch]:
    if batched:
        for start in range(0, samples, batch_size):
            stop = min(start + batch_size, samples)
            yield Batch(start, stop - start, {k: np.asarray(v)[start:stop] for k, v in arrays.items()})
    elif stacked:
        for i in range(samples):
            yield Batch(i, 1, {k: np.asarray(v)[i] for k, v in arrays.items()})
    else:
        yield Batch(0, 1, {k: np.asarray(v) for k, v in arrays.items()})


def generated_batches(generator: InputGenerator, samples: int, batched: bool,
                      batch_size: int) -> Iterator[Batch]:
    if batched:
        for start in range(0, samples, batch_size):
            rows = min(batch_size, samples - start)
            yield Batch(start, rows, generator.batch(rows))
    else:
        for i in range(samples):
            yield Batch(i, 1, generator.batch(None))
