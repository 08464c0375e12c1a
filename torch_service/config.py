"""model-config.yaml: TorchServe's per-model keys plus the `tensors:` contract and `properties:`.

    batchSize: 8            # rows per model execution (dynamic batching; 1 = off)
    maxBatchDelay: 5        # ms the first request of a batch waits for company
    minWorkers: 2           # inference workers (each with its own handler, and device)
    maxWorkers: 2           # accepted for TorchServe compatibility; must be >= minWorkers
    deviceType: gpu         # cpu | gpu (gpu falls back to cpu with a warning when CUDA is absent)
    deviceIds: [0, 1]       # pin the workers to these GPUs (default: round-robin over all GPUs)
    responseTimeout: 120    # s; a request not answered by then is DEADLINE_EXCEEDED
    maxQueueSize: 256       # queued requests; more -> RESOURCE_EXHAUSTED (alias: jobQueueSize)
    tensors:
      inputs:  [{name: x, datatype: FP32, shape: [-1, 64]}]
      outputs: [{name: y, datatype: FP32, shape: [-1, 10]}]
    properties: {classification_output: y}    # reported in ModelMetadata.properties; the contract
                            # ones (x.range, x.max_shape, ...: client.parity.properties) are enforced
    handler: {...}          # free-form, given to handlers as context.model_yaml_config

`tensors:` is parsed by the parser both services share (server_core.signature.parse_tensors).
This module does not import torch.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import yaml

from client.messages import TensorSpec
from server_core.batcher import BatchingConfig
from server_core.signature import parse_tensors

log = logging.getLogger("tandem.torch.config")

DEVICE_TYPES = ("cpu", "gpu")
# TorchServe keys that mean nothing here: accepted so its configs load, and logged once.
_IGNORED_TORCHSERVE_KEYS = frozenset({
    "startupTimeout", "parallelType", "parallelLevel", "torchrun", "pt2", "useJobTicket",
    "continuousBatching", "maxRetryTimeoutInSec", "clientTimeoutInMills", "sequenceMaxIdleMSec",
    "maxSequenceJobQueueSize", "maxNumSequence", "asyncCommunication", "useVenv", "sequenceBatching",
})
_KEYS = frozenset({"batchSize", "maxBatchDelay", "minWorkers", "maxWorkers", "deviceType", "deviceIds",
                   "responseTimeout", "maxQueueSize", "jobQueueSize", "tensors", "properties", "handler"})


class ConfigError(ValueError):
    """model-config.yaml is missing, unreadable or holds a bad value (the text says which)."""


@dataclass(frozen=True)
class ModelConfig:
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    batch_size: int = 1
    max_batch_delay_ms: float = 100.0  # TorchServe's default
    min_workers: int = 1
    max_workers: int = 1
    device_type: str = "cpu"
    device_ids: tuple[int, ...] = ()
    response_timeout_s: float = 120.0  # TorchServe's default
    max_queue_size: int = 256
    properties: Mapping[str, str] = field(default_factory=dict)
    raw: Mapping = field(default_factory=dict, repr=False)

    def batching(self) -> BatchingConfig:
        return BatchingConfig(max_batch_size=self.batch_size, max_delay_s=self.max_batch_delay_ms / 1000.0,
                              max_queue=self.max_queue_size, workers=self.min_workers)


def read_config(data: bytes | str, where: str) -> dict:
    try:
        doc = yaml.safe_load(data)
    except yaml.YAMLError as e:
        raise ConfigError(f"{where} is not valid YAML: {e}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{where} must be a mapping of keys (batchSize, tensors, ...), got {type(doc).__name__}")
    return doc


def _int(doc, key, where, default, minimum):
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{where}: {key} must be an integer >= {minimum}, got {value!r}")
    return value


def _number(doc, key, where, default, *, positive=False):
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or (positive and value == 0):
        raise ConfigError(f"{where}: {key} must be a number {'>' if positive else '>='} 0, got {value!r}")
    return float(value)


def _specs(items, where, kind) -> tuple[TensorSpec, ...]:
    return tuple(spec for spec, _ in parse_tensors(items, where, kind, error=ConfigError))


def parse_config(doc: Mapping | None, where: str = "model-config.yaml", *, default_device: str = "cpu") -> ModelConfig:
    """Validate a model-config.yaml document; ConfigError names the key and what was expected."""
    doc = dict(doc or {})
    unknown = set(doc) - _KEYS - _IGNORED_TORCHSERVE_KEYS
    if unknown:
        log.warning("%s: ignoring unknown keys %s", where, ", ".join(sorted(map(str, unknown))))
    ignored = set(doc) & _IGNORED_TORCHSERVE_KEYS
    if ignored:
        log.info("%s: TorchServe keys without effect here: %s", where, ", ".join(sorted(ignored)))
    tensors = doc.get("tensors")
    if not isinstance(tensors, dict):
        raise ConfigError(f"{where} has no 'tensors' section; declare the model's contract, e.g. "
                          "tensors: {inputs: [{name: x, datatype: FP32, shape: [-1, 64]}], "
                          "outputs: [{name: y, datatype: FP32, shape: [-1, 10]}]}")
    inputs = _specs(tensors.get("inputs"), where, "inputs")
    outputs = _specs(tensors.get("outputs"), where, "outputs")
    batch_size = _int(doc, "batchSize", where, 1, 1)
    if batch_size > 1:
        for spec in inputs + outputs:
            if not spec.shape or spec.shape[0] != -1:
                raise ConfigError(f"{where}: batchSize {batch_size} batches along the first dimension, so "
                                  f"every tensor needs a variable first dimension (-1); '{spec}' has none")
    min_workers = _int(doc, "minWorkers", where, 1, 1)
    max_workers = _int(doc, "maxWorkers", where, min_workers, 1)
    if max_workers < min_workers:
        raise ConfigError(f"{where}: maxWorkers ({max_workers}) is below minWorkers ({min_workers})")
    device_type = doc.get("deviceType", default_device)
    if device_type not in DEVICE_TYPES:
        raise ConfigError(f"{where}: deviceType must be one of {', '.join(DEVICE_TYPES)}, got {device_type!r}")
    device_ids = doc.get("deviceIds", [])
    if not isinstance(device_ids, list) or any(isinstance(d, bool) or not isinstance(d, int) or d < 0
                                               for d in device_ids):
        raise ConfigError(f"{where}: deviceIds must be a list of GPU indices (integers >= 0), got {device_ids!r}")
    if "maxQueueSize" in doc and "jobQueueSize" in doc:
        raise ConfigError(f"{where}: set maxQueueSize or its TorchServe alias jobQueueSize, not both")
    queue_key = "jobQueueSize" if "jobQueueSize" in doc else "maxQueueSize"
    properties = doc.get("properties", {})
    if not isinstance(properties, dict) or any(isinstance(v, (dict, list)) or v is None for v in properties.values()):
        raise ConfigError(f"{where}: properties must map names to strings or numbers, got {properties!r}")
    return ModelConfig(
        inputs=inputs, outputs=outputs, batch_size=batch_size,
        max_batch_delay_ms=_number(doc, "maxBatchDelay", where, 100.0),
        min_workers=min_workers, max_workers=max_workers, device_type=device_type,
        device_ids=tuple(device_ids),
        response_timeout_s=_number(doc, "responseTimeout", where, 120.0, positive=True),
        max_queue_size=_int(doc, queue_key, where, 256, 1),
        properties={str(k): (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in properties.items()},
        raw=doc,
    )
