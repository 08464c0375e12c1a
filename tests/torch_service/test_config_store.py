"""model-config.yaml validation and the model store layout (no server, no torch)."""

from __future__ import annotations

import json
import logging
import zipfile

import numpy as np
import pytest

from client.messages import TensorSpec
from torch_service.archive import ArchiveError
from torch_service.config import ConfigError, parse_config, read_config
from torch_service.extract import DEFAULT_MAX_ARCHIVE_BYTES, open_archive
from torch_service.store import ModelStore

from .conftest import MLP_TENSORS


def test_torchserve_keys_and_ours_are_read():
    text = """
minWorkers: 2
maxWorkers: 4
batchSize: 8
maxBatchDelay: 5
responseTimeout: 30
deviceType: gpu
deviceIds: [1]
jobQueueSize: 10
parallelType: pp
handler: {labels: labels.json}
properties: {x.range: "0,10", classification_output: y, threshold: 0.5, calibrated: true}
tensors:
  inputs: [{name: x, datatype: FP32, shape: [-1, 8]}]
  outputs: [{name: y, datatype: FP32, shape: [-1, 3]}]
"""
    c = parse_config(read_config(text, "model-config.yaml"))
    assert (c.min_workers, c.max_workers, c.batch_size, c.max_batch_delay_ms) == (2, 4, 8, 5.0)
    assert (c.device_type, c.device_ids, c.response_timeout_s, c.max_queue_size) == ("gpu", (1,), 30.0, 10)
    assert c.inputs == (TensorSpec("x", "FP32", (-1, 8)),) and c.outputs == (TensorSpec("y", "FP32", (-1, 3)),)
    assert c.properties == {"x.range": "0,10", "classification_output": "y", "threshold": "0.5", "calibrated": "true"}
    assert c.raw["handler"] == {"labels": "labels.json"}
    b = c.batching()
    assert (b.max_batch_size, b.max_delay_s, b.max_queue, b.workers) == (8, 0.005, 10, 2)


def test_defaults_follow_torchserve():
    c = parse_config({"tensors": MLP_TENSORS}, default_device="cpu")
    assert (c.batch_size, c.max_batch_delay_ms, c.min_workers, c.response_timeout_s) == (1, 100.0, 1, 120.0)
    assert parse_config({"tensors": MLP_TENSORS}, default_device="gpu").device_type == "gpu"


BAD = [
    ({}, "no 'tensors' section"),
    ({"tensors": {"inputs": [], "outputs": MLP_TENSORS["outputs"]}}, "tensors.inputs must be a non-empty list"),
    ({"tensors": {**MLP_TENSORS, "inputs": [{"name": "x", "datatype": "FP128", "shape": [1]}]}},
     "datatype 'FP128' is not one of"),
    ({"tensors": {**MLP_TENSORS, "inputs": [{"name": "x", "datatype": "FP32", "shape": [-2]}]}},
     "shape must be a list of integers"),
    ({"tensors": {**MLP_TENSORS, "inputs": [{"name": "x", "datatype": "FP32"}]}}, "shape must be a list"),
    ({"tensors": {**MLP_TENSORS, "inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "dims": 2}]}},
     "exactly name, datatype and shape"),
    ({"tensors": {**MLP_TENSORS, "outputs": MLP_TENSORS["outputs"] * 2}}, "names must be unique"),
    ({"tensors": MLP_TENSORS, "batchSize": 0}, "batchSize must be an integer >= 1"),
    ({"tensors": MLP_TENSORS, "batchSize": True}, "batchSize must be an integer"),
    ({"tensors": {**MLP_TENSORS, "inputs": [{"name": "x", "datatype": "FP32", "shape": [4, 8]}]}, "batchSize": 4},
     "variable first dimension"),
    ({"tensors": MLP_TENSORS, "minWorkers": 3, "maxWorkers": 2}, "maxWorkers (2) is below minWorkers (3)"),
    ({"tensors": MLP_TENSORS, "deviceType": "neuron"}, "deviceType must be one of cpu, gpu"),
    ({"tensors": MLP_TENSORS, "deviceIds": [-1]}, "deviceIds must be a list of GPU indices"),
    ({"tensors": MLP_TENSORS, "maxBatchDelay": "5ms"}, "maxBatchDelay must be a number"),
    ({"tensors": MLP_TENSORS, "responseTimeout": 0}, "responseTimeout must be a number > 0"),
    ({"tensors": MLP_TENSORS, "maxQueueSize": 1, "jobQueueSize": 2}, "not both"),
    ({"tensors": MLP_TENSORS, "properties": {"a": [1]}}, "properties must map names"),
]


@pytest.mark.parametrize("doc,message", BAD, ids=[m for _, m in BAD])
def test_bad_configs_say_what_was_expected(doc, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_config(doc, "model-config.yaml")


def test_unreadable_yaml_and_unknown_keys(caplog):
    with pytest.raises(ConfigError, match="not valid YAML"):
        read_config("a: [", "c.yaml")
    with pytest.raises(ConfigError, match="must be a mapping"):
        read_config("- 1", "c.yaml")
    with caplog.at_level(logging.WARNING, "tandem.torch.config"):
        parse_config({"tensors": MLP_TENSORS, "batchsize": 4})
    assert "ignoring unknown keys batchsize" in caplog.text


def test_store_layout_names_and_versions(tmp_path):
    (tmp_path / "single.mar").write_bytes(b"")
    (tmp_path / "folder" / "MAR-INF").mkdir(parents=True)
    (tmp_path / "folder" / "MAR-INF" / "MANIFEST.json").write_text("{}")
    versioned = tmp_path / "versioned"
    (versioned / "2").mkdir(parents=True)
    (versioned / "10.mar").write_bytes(b"")
    (versioned / "notes.txt").write_text("ignored")
    (versioned / ".hidden.mar").write_bytes(b"")
    (tmp_path / ".cache").mkdir()
    (tmp_path / "README.md").write_text("ignored")
    (tmp_path / "empty").mkdir()
    store = ModelStore(tmp_path)
    assert store.names() == ["empty", "folder", "single", "versioned"]
    assert [s.version for s in store.sources("single")] == [None]
    assert [s.path.name for s in store.sources("folder")] == ["folder"]
    assert sorted((s.version, s.path.name) for s in store.sources("versioned")) == [("10", "10.mar"), ("2", "2")]
    with pytest.raises(ArchiveError, match="holds no archive"):
        store.sources("empty")
    with pytest.raises(ArchiveError, match="not a valid model name"):
        store.sources("../single")
    (tmp_path / "single").mkdir()
    with pytest.raises(ArchiveError, match="both single.mar and single/"):
        store.sources("single")
    (versioned / "2.mar").write_bytes(b"")
    with pytest.raises(ArchiveError, match="version 2 twice"):
        store.sources("versioned")


def _mar(path, model_name, extra: dict | None = None):
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("MAR-INF/MANIFEST.json", json.dumps({"model": {"modelName": model_name, "modelVersion": "1",
                                                                   "handler": "base_handler"}}))
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return path


def test_entries_resolving_outside_the_store_are_refused_without_server_paths(tmp_path):
    outside, root = tmp_path / "outside", tmp_path / "store"
    _mar(outside / "evil.mar", "evil")
    (outside / "2").mkdir()
    (root / "versioned").mkdir(parents=True)
    (root / "evil.mar").symlink_to(outside / "evil.mar")
    (root / "versioned" / "1.mar").symlink_to(outside / "evil.mar")
    (root / "linked").symlink_to(outside, target_is_directory=True)
    _mar(root / "fine.mar", "fine")
    store = ModelStore(root)
    assert store.names() == ["evil", "fine", "linked", "versioned"]  # listed, so the index says why
    for name in ("evil", "versioned", "linked"):
        with pytest.raises(ArchiveError, match="resolves outside the model store") as info:
            store.sources(name)
        assert str(tmp_path) not in str(info.value)
    assert [s.path.name for s in store.sources("fine")] == ["fine.mar"]
    with pytest.raises(ArchiveError) as info:
        store.sources("missing")
    assert "not in the model store" in str(info.value) and str(tmp_path) not in str(info.value)


def test_survey_names_an_empty_store_tf_layout_and_a_store_of_stores(tmp_path):
    empty = ModelStore(tmp_path / "empty")
    (tmp_path / "empty").mkdir()
    assert len(empty.survey()) == 1 and "holds no models" in empty.survey()[0]

    tf = tmp_path / "tf"
    (tf / "digits" / "1").mkdir(parents=True)
    (tf / "digits" / "1" / "saved_model.pb").write_bytes(b"")
    [problem] = ModelStore(tf).survey()
    assert "TF Serving's layout (digits:" in problem and "tf_service's --model-base-path" in problem

    zoo = tmp_path / "zoo"  # `python -m zoo build` output given as the store: zoo/torch/<model>.mar
    for name in ("digits-mlp", "resnet18"):
        _mar(zoo / "torch" / f"{name}.mar", name)
    (zoo / "tf" / "digits-mlp" / "1").mkdir(parents=True)
    (zoo / "tf" / "digits-mlp" / "1" / "saved_model.pb").write_bytes(b"")
    store = ModelStore(zoo)
    problems = store.survey()
    assert any("'torch/' is a model store itself (it holds the models digits-mlp, resnet18)" in p for p in problems)
    with pytest.raises(ArchiveError, match="torch/ is a model store itself"):
        store.sources("torch")

    fine = tmp_path / "fine"
    _mar(fine / "mlp" / "1.mar", "mlp")
    _mar(fine / "mlp" / "2.mar", "mlp")
    assert ModelStore(fine).survey() == [] and len(ModelStore(fine).sources("mlp")) == 2


def test_extraction_refuses_high_compression_ratios_and_honours_the_size_cap(tmp_path):
    bomb = _mar(tmp_path / "bomb.mar", "bomb", {"weights.bin": b"\0" * (16 << 20)})  # ~16 KiB -> 16 MiB
    assert bomb.stat().st_size < 100_000
    with pytest.raises(ArchiveError, match=r"weights.bin.*expands \d+-fold.*at most 100-fold"):
        open_archive(bomb, tmp_path / "work")
    assert not any((tmp_path / "work").glob("*/weights.bin"))

    rng = np.random.default_rng(0)
    plain = _mar(tmp_path / "plain.mar", "plain", {"weights.bin": rng.bytes(2 << 20), "notes.txt": "a" * 100_000})
    with pytest.raises(ArchiveError, match="--max-archive-bytes"):
        open_archive(plain, tmp_path / "work", max_bytes=1 << 20)
    opened = open_archive(plain, tmp_path / "work")  # small text compresses well: allowed
    try:
        assert (opened.root / "weights.bin").stat().st_size == 2 << 20
    finally:
        opened.close()
    assert DEFAULT_MAX_ARCHIVE_BYTES == 8 * 1024**3
