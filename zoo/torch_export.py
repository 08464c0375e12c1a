"""Writing a zoo model into the torch_service model store: a `torch.export` program (`.pt2`) with
dynamic batch (and sequence) dimensions, archived with torch_service's archive writer as
`STORE/<model>.mar`, its `model-config.yaml` declaring the contract, batching and properties."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch.export import Dim

from client.parity import properties
from torch_service.archive import build_archive

from .specs import ZooModel

ARCHIVE_SUFFIX = ".mar"


def _max_shape(model: ZooModel, spec) -> tuple[int, ...] | None:
    value = model.properties.get(properties.key(spec.name, properties.MAX_SHAPE))
    return None if value is None else properties.parse_shape_bound(spec, properties.MAX_SHAPE, value)


def dynamic_shapes(model: ZooModel) -> tuple[dict[int, Dim], ...]:
    """One `Dim` per variable axis position, shared by every input that has it (a batch of input_ids
    and its attention_mask must agree), bounded where the spec's `<input>.max_shape` says so."""
    dims: dict[int, Dim] = {}
    result = []
    for spec in model.inputs:
        bounds = _max_shape(model, spec) or (0,) * len(spec.shape)
        axes = {}
        for axis, size in enumerate(spec.shape):
            if size != -1:
                continue
            if axis not in dims:
                name = "batch" if axis == 0 else f"axis{axis}"
                dims[axis] = Dim(name, min=1, max=bounds[axis]) if bounds[axis] else Dim(name, min=1)
            axes[axis] = dims[axis]
        result.append(axes)
    return tuple(result)


def export_program(module: torch.nn.Module, model: ZooModel, examples: Mapping[str, np.ndarray]):
    """torch.export the module on example inputs (batch >= 2, so no dimension specialises to 1)."""
    args = tuple(torch.from_numpy(np.ascontiguousarray(examples[s.name])) for s in model.inputs)
    for spec, arg in zip(model.inputs, args):
        if any(d == -1 and n < 2 for d, n in zip(spec.shape, arg.shape)):
            raise ValueError(f"{model.name}: example '{spec.name}' {tuple(arg.shape)} must be >= 2 along "
                             "every variable dimension, or torch.export specialises it")
    return torch.export.export(module.eval(), args, dynamic_shapes=dynamic_shapes(model))


def model_config(model: ZooModel) -> dict:
    """model-config.yaml: TorchServe's keys with the same batching as the TF side, plus the contract."""
    batching = model.batching
    settings: dict[str, int | float]
    if batching is None:  # unbatched: every request runs on its own, whatever its number of rows
        settings = {"batchSize": 1, "maxBatchDelay": 0, "minWorkers": 1, "maxWorkers": 1, "maxQueueSize": 256}
    else:
        delay_ms = batching.batch_timeout_micros / 1000.0
        settings = {"batchSize": batching.max_batch_size,
                    # stock TorchServe takes whole milliseconds only (it refuses 2.0 and falls back to 100)
                    "maxBatchDelay": int(delay_ms) if delay_ms.is_integer() else delay_ms,
                    "minWorkers": batching.num_batch_threads, "maxWorkers": batching.num_batch_threads,
                    "maxQueueSize": batching.max_enqueued_batches * batching.max_batch_size}
    return {**settings, "responseTimeout": 120, "tensors": model.contract(), "properties": dict(model.properties)}


def write_archive(store: Path, model: ZooModel, program, version: str = "1") -> Path:
    """Save `program` and archive it as `store/<model>.mar` (uncompressed: weights barely deflate and
    a stored zip extracts at disk speed)."""
    store.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=store, prefix=".export-") as tmp:
        serialized = Path(tmp) / f"{model.name}.pt2"
        torch.export.save(program, str(serialized))
        return build_archive(store / f"{model.name}{ARCHIVE_SUFFIX}", model_name=model.name, version=version,
                             serialized_file=serialized, handler="base_handler", config=model_config(model),
                             compress=False, overwrite=True)
