"""The embedded backend in-process: hot (un)loading of version folders, model.yaml contracts and
properties, a bad model.yaml or SavedModel as the model's UNAVAILABLE reason while the rest serve,
TF Serving's batch-size rule, and padding to allowed batch sizes."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import yaml

from client import InferenceClient, errors
from tests.support.ports import wait_for
from tf_service.contract import Contract
from tf_service.embedded import EmbeddedBackend, SignatureRunner

from . import models
from .conftest import serving


def pair(rows=2):
    rng = np.random.default_rng(rows)
    return {"INPUT0": rng.standard_normal((rows, 16)).astype(np.float32),
            "INPUT1": rng.standard_normal((rows, 16)).astype(np.float32)}


def versions(c, name):
    try:
        return c.model_metadata(name).versions
    except errors.InferenceError:
        return None


def test_version_folders_are_hot_loaded_and_unloaded(store_copy):
    with serving(EmbeddedBackend(store_copy, poll_s=0.1, models=["add_sub"])) as srv, InferenceClient(srv.address) as c:
        assert versions(c, "add_sub") == ("1", "2")
        shutil.copytree(store_copy / "add_sub" / "2", store_copy / "add_sub" / "5")
        wait_for(lambda: versions(c, "add_sub") == ("1", "2", "5"), 30, what="version 5 to load")
        x = pair()
        np.testing.assert_allclose(c.infer("add_sub", x, version="5")["OUTPUT0"], x["INPUT0"] + x["INPUT1"] + 1,
                                   rtol=1e-6)
        shutil.rmtree(store_copy / "add_sub" / "1")
        wait_for(lambda: versions(c, "add_sub") == ("2", "5"), 30, what="version 1 to unload")
        with pytest.raises(errors.NotFoundError, match="version '1'"):
            c.infer("add_sub", x, version="1")
        for version in ("2", "5"):
            shutil.rmtree(store_copy / "add_sub" / version)
        wait_for(lambda: not c.is_model_ready("add_sub"), 30, what="the model to unload")
        assert any(e.name == "add_sub" and e.state == "UNAVAILABLE" for e in c.repository_index())


def test_bad_config_or_savedmodel_is_the_models_reason_and_the_rest_serve(store_copy):
    models.write_yaml(store_copy / "identity_fp32", {"batching": {"max_batch_size": 0}})
    models.write_yaml(store_copy / "identity_bytes", {"tensors": {"inputs": [
        {"name": "text", "datatype": "BYTES", "shape": [-1, -1], "key": "no_such_key"}]}})
    (store_copy / "checked" / "1" / "saved_model.pb").write_bytes(models.CORRUPT_PB)
    (store_copy / "empty").mkdir()
    with serving(EmbeddedBackend(store_copy, poll_s=0.1)) as srv, InferenceClient(srv.address) as c:
        reasons = {e.name: e.reason for e in c.repository_index() if e.state == "UNAVAILABLE"}
        assert "identity_fp32/model.yaml: batching.max_batch_size" in reasons["identity_fp32"]
        assert "no_such_key" in reasons["identity_bytes"] and "INPUT0" in reasons["identity_bytes"]
        assert "saved_model.pb is not a valid SavedModel" in reasons["checked"]
        assert "no version folders" in reasons["empty"]
        assert c.is_model_ready("add_sub") and c.is_model_ready("slow")
        with pytest.raises(errors.UnavailableError, match="identity_fp32.*max_batch_size"):
            c.infer("identity_fp32", {"INPUT0": np.ones((1, 1), np.float32)})

        (store_copy / "identity_fp32" / "model.yaml").write_text(yaml.safe_dump({"batching": {"max_batch_size": 4}}))
        wait_for(lambda: c.is_model_ready("identity_fp32"), 30, what="the fixed model.yaml to be picked up")
        with pytest.raises(errors.InvalidArgumentError) as info:
            c.infer("identity_fp32", {"INPUT0": np.ones((5, 1), np.float32)})
        assert info.value.message == ("input 'INPUT0': batch of 5 rows is larger than model 'identity_fp32' "
                                      "accepts (max_batch_size 4); split the request")


def test_renamed_contract_properties_and_padding(tmp_path):
    models.build_renamed(tmp_path)
    with serving(EmbeddedBackend(tmp_path, poll_s=0)) as srv, InferenceClient(srv.address) as c:
        meta = c.model_metadata("renamed")
        assert [(t.name, t.datatype, t.shape) for t in meta.inputs] == [("x", "FP32", (-1, 4))]
        assert [(t.name, t.datatype, t.shape) for t in meta.outputs] == [("y", "FP32", (-1, 3))]
        assert meta.properties == {"classification_output": "y", "input.range": "0,1"}
        x = np.arange(12, dtype=np.float32).reshape(3, 4)
        y = c.infer("renamed", {"x": x})["y"]  # 3 rows run padded to the allowed size 4
        np.testing.assert_allclose(y, x @ np.arange(12, dtype=np.float32).reshape(4, 3))
        with pytest.raises(errors.InvalidArgumentError, match="has no input 'args_0'"):
            c.infer("renamed", {"args_0": x})


def test_runner_pads_to_the_next_allowed_size_and_trims():
    seen = []

    def function(**feeds):
        seen.append({k: tuple(v.shape) for k, v in feeds.items()})
        return {"out": feeds["k"] * 2}

    contract = Contract("serving_default", (), (), {"a": "k"}, {"b": "out"})
    runner = SignatureRunner("m", function, contract, allowed_batch_sizes=(2, 4, 8))
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    out = runner({"a": x})
    assert seen[-1] == {"k": (4, 2)}
    np.testing.assert_array_equal(out["b"], x * 2)
    runner({"a": x[:2]})
    assert seen[-1] == {"k": (2, 2)}  # already an allowed size
    runner({"a": np.zeros((9, 2), np.float32)})
    assert seen[-1] == {"k": (9, 2)}  # past the largest: run as is
