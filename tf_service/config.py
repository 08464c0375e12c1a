"""A model's optional `model.yaml` beside its version folders: which SignatureDef to call, the
contract's tensor names (renaming generated SignatureDef keys), batching in TF Serving's terms, and
properties for ModelMetadata.

    signature: serving_default
    tensors:
      inputs:  [{name: x, datatype: FP32, shape: [-1, 64], key: args_0}]
      outputs: [{name: y, datatype: FP32, shape: [-1, 10], key: output_0}]
    batching: {max_batch_size: 32, batch_timeout_micros: 2000, max_enqueued_batches: 64,
               num_batch_threads: 1, allowed_batch_sizes: [8, 16, 32]}
    properties: {"input_ids.range": "0,1000"}    # contract properties are enforced (server_core.contract)

`tensors:` is parsed by the parser both services share (server_core.signature.parse_tensors), plus
each tensor's `key`. Parsing never imports TensorFlow; every mistake raises `ConfigError` naming the
field.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from server_core.batcher import BatchingConfig
from server_core.signature import parse_tensors

CONFIG_FILE = "model.yaml"
DEFAULT_SIGNATURE = "serving_default"
_TOP_KEYS = ("signature", "tensors", "batching", "properties")
# TF Serving's BatchingParameters names; unset fields take TF Serving's defaults when applied.
BATCHING_KEYS = ("max_batch_size", "batch_timeout_micros", "max_enqueued_batches", "num_batch_threads",
                 "allowed_batch_sizes", "pad_variable_length_inputs")
_TF_DEFAULTS = {"max_batch_size": 1000, "batch_timeout_micros": 0, "max_enqueued_batches": 10,
                "num_batch_threads": 1}


class ConfigError(ValueError):
    """model.yaml is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class TensorEntry:
    name: str  # the contract name clients use
    datatype: str
    shape: tuple[int, ...]
    key: str  # the SignatureDef's key for this tensor


@dataclass(frozen=True)
class Batching:
    """TF Serving's batching parameters as given (None = not set, TF Serving's default applies)."""

    max_batch_size: int | None = None
    batch_timeout_micros: int | None = None
    max_enqueued_batches: int | None = None
    num_batch_threads: int | None = None
    allowed_batch_sizes: tuple[int, ...] = ()
    pad_variable_length_inputs: bool = False

    def value(self, name: str) -> int:
        given = getattr(self, name)
        return _TF_DEFAULTS[name] if given is None else given

    def batcher_config(self, *, delay: bool = True, workers: int | None = None) -> BatchingConfig:
        """The shared batcher's settings: TF Serving queues whole batches, the batcher requests."""
        size = self.value("max_batch_size")
        return BatchingConfig(
            max_batch_size=size,
            max_delay_s=self.value("batch_timeout_micros") / 1e6 if delay else 0.0,
            max_queue=max(1, self.value("max_enqueued_batches") * size),
            workers=workers or self.value("num_batch_threads"),
        )


@dataclass(frozen=True)
class ModelConfig:
    signature: str = DEFAULT_SIGNATURE
    inputs: tuple[TensorEntry, ...] | None = None  # None: the SignatureDef's own tensors are the contract
    outputs: tuple[TensorEntry, ...] | None = None
    batching: Batching | None = None
    properties: Mapping[str, str] = field(default_factory=dict)


def _fail(where: str, message: str):
    raise ConfigError(f"{where}: {message}")


def _int(where: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        _fail(where, f"expected an integer >= {minimum}, got {value!r}")
    return value


def _tensors(where: str, kind: str, items) -> tuple[TensorEntry, ...]:
    """The shared `tensors:` parser (server_core.signature), plus each tensor's SignatureDef `key`."""
    entries = []
    for i, (spec, extra) in enumerate(parse_tensors(items, where, kind, extra_fields=("key",), error=ConfigError)):
        key = extra.get("key", spec.name)
        if not isinstance(key, str) or not key:
            _fail(f"{where}: tensors.{kind}[{i}] ({spec.name})", f"'key' must be the SignatureDef's tensor name, "
                                                                 f"got {key!r}")
        entries.append(TensorEntry(spec.name, spec.datatype, spec.shape, key))
    keys = [e.key for e in entries]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        _fail(f"{where}: tensors.{kind}", f"duplicate key(s): {', '.join(dupes)}")
    return tuple(entries)


def _batching(where: str, section) -> Batching:
    if not isinstance(section, Mapping):
        _fail(where, f"expected a mapping of TF Serving batching parameters ({', '.join(BATCHING_KEYS)})")
    unknown = set(section) - set(BATCHING_KEYS)
    if unknown:
        _fail(where, f"unknown parameter(s) {', '.join(sorted(map(str, unknown)))}; "
                     f"expected TF Serving's names: {', '.join(BATCHING_KEYS)}")
    values = {}
    for key, minimum in (("max_batch_size", 1), ("batch_timeout_micros", 0), ("max_enqueued_batches", 1),
                         ("num_batch_threads", 1)):
        if key in section:
            values[key] = _int(f"{where}.{key}", section[key], minimum)
    allowed = section.get("allowed_batch_sizes", [])
    if not isinstance(allowed, list):
        _fail(f"{where}.allowed_batch_sizes", f"expected a list of increasing sizes, got {allowed!r}")
    allowed = tuple(_int(f"{where}.allowed_batch_sizes", v, 1) for v in allowed)
    if allowed:
        if any(b <= a for a, b in itertools.pairwise(allowed)):
            _fail(f"{where}.allowed_batch_sizes", f"sizes must increase strictly, got {list(allowed)}")
        size = values.get("max_batch_size", _TF_DEFAULTS["max_batch_size"])
        if allowed[-1] != size:  # TF Serving refuses the same
            _fail(f"{where}.allowed_batch_sizes", f"the last size must equal max_batch_size ({size}), "
                                                  f"got {allowed[-1]}")
    pad = section.get("pad_variable_length_inputs", False)
    if not isinstance(pad, bool):
        _fail(f"{where}.pad_variable_length_inputs", f"expected true or false, got {pad!r}")
    return Batching(allowed_batch_sizes=allowed, pad_variable_length_inputs=pad, **values)


def parse_model_config(text: str, where: str = CONFIG_FILE) -> ModelConfig:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{where}: not valid YAML: {e}") from None
    if data is None:
        return ModelConfig()
    if not isinstance(data, Mapping):
        _fail(where, f"expected a mapping with any of {', '.join(_TOP_KEYS)}")
    unknown = set(data) - set(_TOP_KEYS)
    if unknown:
        _fail(where, f"unknown key(s) {', '.join(sorted(map(str, unknown)))}; expected any of {', '.join(_TOP_KEYS)}")
    signature = data.get("signature", DEFAULT_SIGNATURE)
    if not isinstance(signature, str) or not signature:
        _fail(f"{where}: signature", f"expected a SignatureDef name, got {signature!r}")
    inputs = outputs = None
    if "tensors" in data:
        tensors = data["tensors"]
        if not isinstance(tensors, Mapping) or not set(tensors) <= {"inputs", "outputs"} or not tensors:
            _fail(f"{where}: tensors", "expected a mapping with 'inputs' and/or 'outputs'")
        if "inputs" in tensors:
            inputs = _tensors(where, "inputs", tensors["inputs"])
        if "outputs" in tensors:
            outputs = _tensors(where, "outputs", tensors["outputs"])
    batching = _batching(f"{where}: batching", data["batching"]) if data.get("batching") is not None else None
    props = data.get("properties") or {}
    if not isinstance(props, Mapping) or any(not isinstance(k, str) or isinstance(v, (Mapping, list))
                                             for k, v in props.items()):
        _fail(f"{where}: properties", "expected a mapping of string keys to scalar values")
    properties = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in props.items()}
    return ModelConfig(signature, inputs, outputs, batching, properties)


def load_model_config(model_dir: Path) -> ModelConfig:
    """The model's config (defaults when it has no model.yaml). Raises ConfigError."""
    path = Path(model_dir) / CONFIG_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ModelConfig()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path.parent.name}/{CONFIG_FILE}: cannot read: {e}") from None
    return parse_model_config(text, f"{path.parent.name}/{CONFIG_FILE}")
