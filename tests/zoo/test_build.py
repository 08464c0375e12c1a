"""The built zoo (by `python -m zoo build`, once per session): layout, identical contracts on both
sides, and the two exports agreeing with each other on the parity inputs."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch

from tf_service.config import load_model_config
from torch_service.archive import CONFIG_NAME
from torch_service.config import parse_config, read_config
from zoo.diffs import compare, within
from zoo.specs import MODELS

NAMES = list(MODELS)


def run_program(program, inputs):
    with torch.inference_mode():
        out = program(*(torch.from_numpy(a) for a in inputs.values()))
    return out if isinstance(out, (tuple, list)) else (out,)


def parity_inputs(zoo_dir, name):
    data = dict(np.load(zoo_dir / "parity" / f"{name}.npz"))
    return {s.name: data[s.name] for s in MODELS[name].inputs}, data.get("labels")


def test_layout_and_zoo_json(zoo_dir, zoo_doc):
    assert list(zoo_doc["models"]) == NAMES
    assert zoo_doc["seed"] == 0
    assert zoo_doc["numerics"]["tf_onednn_enabled"] is False  # the build switches it off for itself
    for name, entry in zoo_doc["models"].items():
        spec = MODELS[name]
        assert (zoo_dir / entry["torch_archive"]).is_file()
        assert (zoo_dir / entry["saved_model"] / "saved_model.pb").is_file()
        assert (zoo_dir / entry["tf_model"] / "model.yaml").is_file()
        assert (zoo_dir / entry["parity_inputs"]).is_file()
        assert entry["inputs"] == spec.contract()["inputs"] and entry["outputs"] == spec.contract()["outputs"]
        assert entry["tolerance"]["atol"] == spec.tolerance.atol and entry["tolerance"]["rtol"] == spec.tolerance.rtol
        for check in ("torch_export", "keras_port", "saved_model"):
            assert set(entry["measured"][check]) == {s.name for s in spec.outputs}
            assert all(d["tolerance_used"] <= 1 for d in entry["measured"][check].values())
    digits = zoo_doc["models"]["digits-mlp"]
    assert digits["parity_labels"] == "labels" and digits["metrics"]["test_accuracy"] >= 0.95


@pytest.mark.parametrize("name", NAMES)
def test_both_sides_declare_the_same_contract(name, zoo_dir):
    spec = MODELS[name]
    with zipfile.ZipFile(zoo_dir / "torch" / f"{name}.mar") as archive:
        manifest = json.loads(archive.read("MAR-INF/MANIFEST.json"))
        torch_cfg = parse_config(read_config(archive.read(CONFIG_NAME), CONFIG_NAME))
    tf_cfg = load_model_config(zoo_dir / "tf" / name)
    assert manifest["model"]["serializedFile"] == f"{name}.pt2" and manifest["model"]["modelVersion"] == "1"
    assert torch_cfg.inputs == spec.inputs and torch_cfg.outputs == spec.outputs
    def triples(items):
        return [(t.name, t.datatype, tuple(t.shape)) for t in items]

    assert triples(tf_cfg.inputs) == triples(spec.inputs) and triples(tf_cfg.outputs) == triples(spec.outputs)
    assert all(t.key == t.name for t in tf_cfg.inputs + tf_cfg.outputs)
    assert torch_cfg.properties == tf_cfg.properties == dict(spec.properties)
    if spec.batching is None:
        assert tf_cfg.batching is None and torch_cfg.batch_size == 1
    else:
        assert torch_cfg.batch_size == tf_cfg.batching.max_batch_size == spec.batching.max_batch_size
        assert torch_cfg.max_batch_delay_ms * 1000 == tf_cfg.batching.batch_timeout_micros


@pytest.mark.parametrize("name", NAMES)
def test_saved_model_signature_carries_the_contract(name, exported):
    spec = MODELS[name]
    signature = exported(name)[1].signature
    _, inputs = signature.structured_input_signature
    assert sorted(inputs) == sorted(s.name for s in spec.inputs)  # a SignatureDef's tensors are a map: no order
    for s in spec.inputs:
        assert inputs[s.name].dtype.name == s.datatype.lower().replace("fp", "float")
        assert inputs[s.name].shape.as_list() == [None if d == -1 else d for d in s.shape]
    outputs = signature.structured_outputs
    assert sorted(outputs) == sorted(s.name for s in spec.outputs)
    for s in spec.outputs:
        assert outputs[s.name].dtype.name == "float32"
        assert outputs[s.name].shape.as_list() == [None if d == -1 else d for d in s.shape]


@pytest.mark.parametrize("name", NAMES)
def test_exports_agree_on_parity_inputs(name, zoo_dir, exported):
    spec = MODELS[name]
    program, serving = exported(name)
    inputs, labels = parity_inputs(zoo_dir, name)
    torch_out = dict(zip([s.name for s in spec.outputs], (t.numpy() for t in run_program(program, inputs))))
    tf_out = serving(inputs)
    diffs = compare(tf_out, torch_out, spec.tolerance)
    assert within(diffs), diffs
    if labels is not None:
        assert (torch_out["logits"].argmax(-1) == labels).mean() >= 0.95
        assert (tf_out["logits"].argmax(-1) == labels).mean() >= 0.95
        assert (torch_out["logits"].argmax(-1) == tf_out["logits"].argmax(-1)).all()


@pytest.mark.parametrize("name,shapes", [
    ("digits-mlp", {"x": (1, 64)}),
    ("resnet18", {"pixel_values": (1, 3, 224, 224)}),
    ("text-encoder", {"input_ids": (1, 1), "attention_mask": (1, 1)}),
    ("text-encoder", {"input_ids": (3, 128), "attention_mask": (3, 128)}),
])
def test_variable_dimensions_stay_variable(name, shapes, exported):
    spec = MODELS[name]
    program, serving = exported(name)
    inputs = {k: np.ones(v, dtype=np.float32 if k in ("x", "pixel_values") else np.int64) for k, v in shapes.items()}
    torch_out = dict(zip([s.name for s in spec.outputs], (t.numpy() for t in run_program(program, inputs))))
    assert within(compare(serving(inputs), torch_out, spec.tolerance))
    assert torch_out[spec.outputs[0].name].shape[0] == next(iter(shapes.values()))[0]


def test_text_longer_than_the_position_table_is_refused_on_both_sides(exported):
    program, serving = exported("text-encoder")
    inputs = {"input_ids": np.ones((1, 129), np.int64), "attention_mask": np.ones((1, 129), np.int64)}
    # The exception types torch_service and tf_service map to INVALID_ARGUMENT (server_core.contract):
    # the contract's max_shape check refuses first, these are the frameworks' own refusals behind it.
    import tensorflow as tf

    with pytest.raises(AssertionError, match="129|128"):
        run_program(program, inputs)
    with pytest.raises(tf.errors.InvalidArgumentError):
        serving(inputs)


@pytest.mark.parametrize("name", NAMES)
def test_parity_files_match_the_contract(name, zoo_dir):
    spec = MODELS[name]
    data = dict(np.load(zoo_dir / "parity" / f"{name}.npz"))
    rows = {data[s.name].shape[0] for s in spec.inputs}
    assert len(rows) == 1 and rows.pop() >= 8
    for s in spec.inputs:
        assert data[s.name].dtype == (np.float32 if s.datatype == "FP32" else np.int64)
        assert all(d in (-1, n) for d, n in zip(s.shape, data[s.name].shape))
    assert set(data) - {s.name for s in spec.inputs} == ({"labels"} if name == "digits-mlp" else set())
    if name == "digits-mlp":
        assert data["labels"].shape == (360,) and set(np.unique(data["labels"])) == set(range(10))
    if name == "text-encoder":  # realistic padding: rows of different lengths, no fully padded row
        lengths = data["attention_mask"].sum(1)
        assert lengths.min() >= 1 and len(set(lengths)) > 4


def test_build_api_is_deterministic_and_keeps_other_models(zoo_dir, exported, tmp_path):
    from zoo.build import build
    from zoo.tf_export import load_serving

    doc = build(tmp_path, ["digits-mlp"], seed=0)
    assert list(doc["models"]) == ["digits-mlp"]
    ours = dict(np.load(tmp_path / "parity" / "digits-mlp.npz"))
    theirs = dict(np.load(zoo_dir / "parity" / "digits-mlp.npz"))
    assert all(np.array_equal(ours[k], theirs[k]) for k in theirs)
    inputs = {"x": ours["x"]}
    np.testing.assert_array_equal(load_serving(tmp_path / "tf" / "digits-mlp" / "1")(inputs)["logits"],
                                  exported("digits-mlp")[1](inputs)["logits"])

    doc = build(tmp_path, "text-encoder", seed=1)
    assert list(doc["models"]) == ["digits-mlp", "text-encoder"]  # the earlier model is kept
    assert doc["models"]["text-encoder"]["seed"] == 1 and doc["models"]["digits-mlp"]["seed"] == 0
    text_inputs, _ = parity_inputs(zoo_dir, "text-encoder")
    other = load_serving(tmp_path / "tf" / "text-encoder" / "1")(text_inputs)["pooler_output"]
    assert np.abs(other - exported("text-encoder")[1](text_inputs)["pooler_output"]).max() > 0.1


def test_a_port_outside_tolerance_fails_the_build_before_writing(tmp_path):
    import dataclasses

    from zoo.build import BuildError, build_model
    from zoo.specs import Tolerance

    strict = dataclasses.replace(MODELS["text-encoder"], tolerance=Tolerance(atol=1e-9, rtol=0.0, why="test"))
    with pytest.raises(BuildError, match=r"text-encoder: Keras port differs from the PyTorch model beyond "
                                         r"tolerance \(atol 1e-09, rtol 0.0\): last_hidden_state: max \|diff\|"):
        build_model(strict, tmp_path, seed=0)
    assert list(tmp_path.iterdir()) == []
