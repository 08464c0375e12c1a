"""Building the zoo: for each model, make it in PyTorch (train / calibrate / initialise from the seed),
export it for torch_service, port it to Keras, export that for TF Serving, and check every artefact
against the PyTorch model before writing the parity inputs and zoo.json.

    from zoo.build import build
    doc = build("/tmp/zoo", models=["digits-mlp"], seed=0)   # the zoo.json document

Layout written under `out_dir`:

    torch/<model>.mar                 torch_service model store (torch.export program + model-config.yaml)
    tf/<model>/1/saved_model.pb ...   TF Serving base path (SavedModel, signature serving_default)
    tf/<model>/model.yaml             tf_service's contract / batching / properties
    parity/<model>.npz                inputs for the parity suite (digits: held-out split + labels)
    zoo.json                          models, contract, tolerances, measured differences

Both frameworks load in this process (torch first, then TensorFlow); nothing loads at import.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from . import numerics
from .diffs import compare, describe, within
from .specs import MODELS, ZooModel, select

if TYPE_CHECKING:  # torch is imported where a model is made, not with this module
    import torch

log = logging.getLogger("tandem.zoo")

ZOO_JSON = "zoo.json"
FORMAT_VERSION = 1
MODEL_VERSION = "1"
LABELS = "labels"
CALIBRATION_IMAGES = 32
PARITY_IMAGES = 8
PARITY_SEQUENCES, SEQUENCE_LENGTH = 16, 48


class BuildError(RuntimeError):
    """An export disagrees with its PyTorch source beyond the model's tolerance."""


def subseed(seed: int, *parts: str) -> int:
    """A seed of its own for each (model, purpose), stable across runs and platforms."""
    return zlib.crc32(":".join((str(seed), *parts)).encode())


@dataclass
class Prepared:
    """One model made in PyTorch: the module (eval mode), its parity inputs (+ labels), small example
    inputs for torch.export, and metrics of the making (digits: accuracies)."""

    module: torch.nn.Module
    parity: dict[str, np.ndarray]
    examples: dict[str, np.ndarray]
    metrics: dict[str, float] = field(default_factory=dict)

    def inputs(self, model: ZooModel) -> dict[str, np.ndarray]:
        return {s.name: self.parity[s.name] for s in model.inputs}


def prepare(model: ZooModel, seed: int) -> Prepared:
    """Make `model` in PyTorch from `seed` (train, calibrate or initialise) with its parity inputs."""
    from . import data, recipes

    config = model.config
    module: torch.nn.Module
    if model.name == "digits-mlp":
        split = data.digits_split(subseed(seed, model.name, "split"))
        module, metrics = recipes.train_digits(split, subseed(seed, model.name, "weights"), config)
        return Prepared(module, {"x": split.x_test, LABELS: split.y_test}, {"x": split.x_test[:4]}, metrics)
    if model.name == "resnet18":
        photos = data.sample_photos()
        calibration = data.image_crops(photos, CALIBRATION_IMAGES, subseed(seed, model.name, "calibration"))
        module = recipes.make_resnet18(subseed(seed, model.name, "weights"), config, calibration)
        images = data.image_crops(photos, PARITY_IMAGES, subseed(seed, model.name, "parity"))
        return Prepared(module, {"pixel_values": images}, {"pixel_values": images[:2]})
    if model.name == "text-encoder":
        module = recipes.make_text_encoder(subseed(seed, model.name, "weights"), config)
        ids, mask = data.token_batch(PARITY_SEQUENCES, subseed(seed, model.name, "parity"),
                                     cast(int, config["vocab_size"]), SEQUENCE_LENGTH)
        return Prepared(module, {"input_ids": ids, "attention_mask": mask},
                        {"input_ids": ids[:4], "attention_mask": mask[:4]})
    raise ValueError(f"no recipe for model '{model.name}'")


def _check(model: ZooModel, what: str, candidate, reference) -> dict:
    diffs = compare(candidate, reference, model.tolerance)
    log.info("%s: %s vs PyTorch: %s", model.name, what, describe(diffs))
    if not within(diffs):
        raise BuildError(f"{model.name}: {what} differs from the PyTorch model beyond tolerance "
                         f"(atol {model.tolerance.atol}, rtol {model.tolerance.rtol}): {describe(diffs)}")
    return diffs


def build_model(model: ZooModel, out: Path, seed: int) -> dict:
    """Build one model, check both exports against PyTorch, write them; returns its zoo.json entry.
    Nothing is written before the torch.export program and the Keras port have passed."""
    from . import recipes, tf_export, torch_export

    t0 = time.perf_counter()
    made = prepare(model, seed)
    inputs, metrics = made.inputs(model), dict(made.metrics)
    output_names = [s.name for s in model.outputs]
    reference = recipes.run(made.module, inputs, output_names)
    program = torch_export.export_program(made.module, model, made.examples)
    measured = {"torch_export": _check(model, "torch.export program",
                                       recipes.run(program.module(), inputs, output_names), reference)}
    twin = tf_export.keras_twin(model, recipes.state_dict_numpy(made.module))
    measured["keras_port"] = _check(model, "Keras port", tf_export.predict(twin, model, inputs), reference)
    archive = torch_export.write_archive(out / "torch", model, program, MODEL_VERSION)
    saved = tf_export.export_saved_model(twin, model, out / "tf", MODEL_VERSION)
    served = tf_export.load_serving(saved)(inputs)
    try:
        measured["saved_model"] = _check(model, "SavedModel serving_default", served, reference)
    except BuildError:
        shutil.rmtree(saved, ignore_errors=True)
        archive.unlink(missing_ok=True)
        raise
    if "classification_output" in model.properties:
        name = model.properties["classification_output"]
        metrics["top1_agreement"] = float((served[name].argmax(-1) == reference[name].argmax(-1)).mean())
        if LABELS in made.parity:
            metrics["tf_test_accuracy"] = float((served[name].argmax(-1) == made.parity[LABELS]).mean())
    parity_file = out / "parity" / f"{model.name}.npz"
    parity_file.parent.mkdir(parents=True, exist_ok=True)
    np.savez(parity_file, **cast(dict[str, Any], made.parity))  # mypy: a **dict might hold allow_pickle
    seconds = time.perf_counter() - t0
    log.info("%s: built in %.1fs", model.name, seconds)
    return {
        "description": model.description,
        "version": MODEL_VERSION,
        "seed": seed,
        "torch_archive": archive.relative_to(out).as_posix(),
        "tf_model": saved.parent.relative_to(out).as_posix(),
        "saved_model": saved.relative_to(out).as_posix(),
        "parity_inputs": parity_file.relative_to(out).as_posix(),
        "parity_labels": LABELS if LABELS in made.parity else None,
        "parity_samples": int(next(iter(inputs.values())).shape[0]),
        **model.contract(),
        "properties": dict(model.properties),
        "batching": None if model.batching is None else model.batching.as_dict(),
        "tolerance": model.tolerance.as_dict(),
        "measured": measured,
        "metrics": metrics,
        "build_seconds": round(seconds, 2),
    }


def _versions() -> dict:
    import keras
    import tensorflow as tf
    import torch

    return {"torch": torch.__version__, "tensorflow": tf.__version__, "keras": keras.__version__}


def _existing_models(out: Path) -> dict:
    """Entries of a previous zoo.json in `out` whose files are still there (kept on partial builds)."""
    try:
        doc = json.loads((out / ZOO_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    models = doc.get("models") if isinstance(doc, dict) else None
    if not isinstance(models, dict):
        return {}
    return {name: entry for name, entry in models.items()
            if name in MODELS and isinstance(entry, dict)
            and all((out / entry.get(k, "\0")).exists() for k in ("torch_archive", "saved_model", "parity_inputs"))}


def build(out_dir: str | Path, models: str | list[str] | None = None, seed: int = 0) -> dict:
    """Build the named models (all when None) into `out_dir`; returns the zoo.json document written.
    Raises ValueError for an unknown model, BuildError when an export does not match PyTorch."""
    chosen = select(models)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    numerics.prefer_tf_onednn_off()  # before TensorFlow loads; no effect if it already has
    import torch  # noqa: F401 - PyTorch first, then TensorFlow (tf_export)

    from . import tf_export  # noqa: F401

    numerics.configure_torch()
    numerics.configure_tf()
    entries = _existing_models(out)
    t0 = time.perf_counter()
    for model in chosen:
        try:
            entries[model.name] = build_model(model, out, seed)
        except BaseException:
            # zoo.json marks a finished build: never create it for a failed one, and never leave one
            # that lists a model whose files are gone or half-written.
            if entries.pop(model.name, None) is not None:
                _write_doc(out, entries, seed, time.perf_counter() - t0)
            raise
    return _write_doc(out, entries, seed, time.perf_counter() - t0)


def _write_doc(out: Path, entries: dict, seed: int, seconds: float) -> dict:
    doc = {
        "format": FORMAT_VERSION,
        "seed": seed,
        "built_seconds": round(seconds, 2),
        "frameworks": _versions(),
        "numerics": numerics.describe(),
        "tolerance_rule": "every output element: |a - b| <= atol + rtol * max(|a|, |b|)",
        "layout": {"torch_store": "torch", "tf_base_path": "tf", "parity": "parity"},
        "models": {name: entries[name] for name in MODELS if name in entries},
    }
    partial = out / f".{ZOO_JSON}.partial"
    partial.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, out / ZOO_JSON)  # readers see the old document or the new one, never half
    return doc
