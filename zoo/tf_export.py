"""The TensorFlow side of a zoo model: the Keras twin built with weights ported from the PyTorch state
dict, exported as a SavedModel for TF Serving (`BASE/<model>/<version>/`) with an explicit
`serving_default` signature whose tensors carry the contract names, plus `BASE/<model>/model.yaml`."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, cast

import keras
import numpy as np
import tensorflow as tf
import yaml

from .keras_models.digits_mlp import digits_mlp
from .keras_models.resnet import resnet18
from .keras_models.text_encoder import text_encoder
from .port import port
from .specs import ZooModel

SIGNATURE = "serving_default"
MODEL_YAML = "model.yaml"
BUILDERS: dict[str, Callable[..., keras.Model]] = {
    "digits-mlp": digits_mlp, "resnet18": resnet18, "text-encoder": text_encoder}
_DTYPES = {"FP32": tf.float32, "INT64": tf.int64, "INT32": tf.int32, "FP64": tf.float64}


def keras_twin(model: ZooModel, state_dict: Mapping[str, np.ndarray]) -> keras.Model:
    """The Keras model of `model` with every weight ported from the PyTorch `state_dict`."""
    twin = BUILDERS[model.name](**model.config)
    port(state_dict, twin)
    return twin


def predict(twin: keras.Model, model: ZooModel, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run the in-memory Keras twin (inference mode) on contract-named inputs."""
    args = [tf.convert_to_tensor(inputs[s.name]) for s in model.inputs]
    result = twin(args if len(args) > 1 else args[0], training=False)
    return {s.name: np.asarray(result[s.name]) for s in model.outputs}


def input_signature(model: ZooModel) -> list[tf.TensorSpec]:
    return [tf.TensorSpec([None if d == -1 else d for d in s.shape], _DTYPES[s.datatype], name=s.name)
            for s in model.inputs]


class _Servable(tf.Module):
    """What the SavedModel holds: the Keras twin (so its variables are saved once) and the signature.
    (keras.export.ExportArchive would store every variable twice, doubling the files.)"""

    def __init__(self, twin: keras.Model, model: ZooModel):
        super().__init__(name="servable")
        self.twin = twin
        names = [s.name for s in model.outputs]

        @tf.function(input_signature=input_signature(model))
        def serve(*tensors):
            result = twin(list(tensors) if len(tensors) > 1 else tensors[0], training=False)
            return {name: tf.identity(result[name], name=name) for name in names}

        self.serve = serve


def export_saved_model(twin: keras.Model, model: ZooModel, base: Path, version: str = "1") -> Path:
    """Write the SavedModel to `base/<model>/<version>/` (replacing it) and `base/<model>/model.yaml`."""
    target = Path(base) / model.name / version
    servable = _Servable(twin, model)
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tf.saved_model.save(servable, str(target), signatures={SIGNATURE: servable.serve.get_concrete_function()})
    write_model_yaml(target.parent, model)
    return target


def model_yaml(model: ZooModel) -> dict:
    """tf_service's model.yaml: the contract, with each tensor's SignatureDef key (equal to its name)."""
    def entries(specs):
        return [{"name": s.name, "datatype": s.datatype, "shape": list(s.shape), "key": s.name} for s in specs]

    doc = {"signature": SIGNATURE, "tensors": {"inputs": entries(model.inputs), "outputs": entries(model.outputs)}}
    if model.batching is not None:  # no section: tf_service runs the model unbatched
        doc["batching"] = model.batching.as_dict()
    doc["properties"] = dict(model.properties)
    return doc


class _Dumper(yaml.SafeDumper):
    """Lists in flow style (`inputs: [{name: x, datatype: FP32, shape: [-1, 64], key: x}]`), mappings
    in block style: one line per tensor, one per property."""


_Dumper.add_representer(list, lambda dumper, data: dumper.represent_sequence("tag:yaml.org,2002:seq", data,
                                                                             flow_style=True))


def write_model_yaml(model_dir: Path, model: ZooModel) -> Path:
    path = Path(model_dir) / MODEL_YAML
    path.write_text(yaml.dump(model_yaml(model), Dumper=_Dumper, sort_keys=False, width=1000), encoding="utf-8")
    return path


class ServingFunction(Protocol):
    """What load_serving returns: a function of contract-named numpy arrays, with attributes."""

    signature: Any  # the loaded ConcreteFunction, for inspecting the SignatureDef's tensors
    keep_alive: Any  # the loaded SavedModel, which the signature needs

    def __call__(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]: ...


def load_serving(path: Path) -> ServingFunction:
    """The exported `serving_default` signature, as `f(inputs: dict) -> dict` of numpy arrays."""
    loaded = tf.saved_model.load(str(path))
    fn = loaded.signatures[SIGNATURE]

    def call(inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        result = fn(**{k: tf.convert_to_tensor(v) for k, v in inputs.items()})
        return {k: v.numpy() for k, v in result.items()}

    serving = cast(ServingFunction, call)
    serving.signature = fn  # for inspecting the SignatureDef's tensors
    serving.keep_alive = loaded
    return serving
