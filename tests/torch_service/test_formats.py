"""The three model formats and the handler kinds, served for real; bad models refused at load."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from client import errors
from server_core.errors import Unavailable
from torch_service.archive import MANIFEST_PATH, build_archive
from torch_service.loader import TorchLoader
from torch_service.store import ModelStore

from . import models
from .conftest import MLP, mlp_config

X = np.random.default_rng(3).standard_normal((4, 8)).astype(np.float32)


def expected(artifacts, x=X):
    with torch.no_grad():
        return artifacts.mlp(torch.from_numpy(x)).numpy()


def test_export_torchscript_and_eager_give_the_model_outputs(tmp_path, artifacts, serve):
    store = tmp_path / "store"
    build_archive(store / "exported.mar", model_name="exported", version="1", serialized_file=artifacts.mlp_export,
                  config=mlp_config())
    build_archive(store / "scripted.mar", model_name="scripted", version="1", serialized_file=artifacts.mlp_script,
                  config=mlp_config())
    build_archive(store / "eager.mar", model_name="eager", version="1", serialized_file=artifacts.mlp_state,
                  model_file=artifacts.mlp_model_file, config=mlp_config())
    _, c = serve(store)
    for name in ("exported", "scripted", "eager"):
        for rows in (1, 4):
            out = c.infer(name, {"x": X[:rows]})["y"]
            np.testing.assert_allclose(out, expected(artifacts, X[:rows]), rtol=1e-5, atol=1e-6, err_msg=name)


def _refused(tmp_path, serve, **archive):
    store = tmp_path / "store"
    build_archive(store / "m.mar", model_name="m", version="1", **archive)
    _, c = serve(store)
    [entry] = [e for e in c.repository_index() if e.name == "m"]
    assert entry.state == "UNAVAILABLE"
    with pytest.raises(errors.UnavailableError):
        c.infer("m", {"x": X})
    return entry.reason


def test_pickled_whole_model_is_refused_by_weights_only(tmp_path, artifacts, serve):
    pickled = tmp_path / "whole_model.pt"
    torch.save(MLP(), pickled)  # a pickled module, not a state_dict: weights_only refuses to unpickle it
    reason = _refused(tmp_path, serve, serialized_file=pickled, model_file=artifacts.mlp_model_file,
                      config=mlp_config())
    assert "weights_only=True" in reason and "state_dict" in reason


def test_mismatched_state_dict_is_refused(tmp_path, artifacts, serve):
    other = models.save_state_dict(torch.nn.Linear(8, 3), tmp_path / "other.pt")
    reason = _refused(tmp_path, serve, serialized_file=other, model_file=artifacts.mlp_model_file,
                      config=mlp_config())
    assert "does not match MLP" in reason and "Missing key" in reason


def test_model_file_with_two_module_classes_is_refused(tmp_path, artifacts, serve):
    two = models.write_text(tmp_path / "two.py", "import torch\nclass A(torch.nn.Module): pass\n"
                                                 "class B(torch.nn.Module): pass\n")
    reason = _refused(tmp_path, serve, serialized_file=artifacts.mlp_state, model_file=two, config=mlp_config())
    assert "exactly one torch.nn.Module subclass (found: A, B)" in reason


def test_garbage_torchscript_and_export_files_are_refused(tmp_path, serve):
    junk = models.write_text(tmp_path / "junk.pt", "not a model")
    reason = _refused(tmp_path, serve, serialized_file=junk, config=mlp_config())
    assert "'junk.pt' is not a TorchScript program" in reason
    junk2 = models.write_text(tmp_path / "junk.pt2", "not a program")
    store = tmp_path / "store"
    build_archive(store / "e.mar", model_name="e", version="1", serialized_file=junk2, config=mlp_config())
    with pytest.raises(Unavailable, match="'junk.pt2' is not a torch.export program"):
        TorchLoader(ModelStore(store), tmp_path / "w2").load("e")
    assert not any((tmp_path / "w2").rglob("*.pt2")), "the failed load left its extraction behind"


CLASS_HANDLER = '''
import numpy as np
import torch

from torch_service.handler import BaseHandler


class Doubling(BaseHandler):
    """Uses the base handler's model loading, adds pre- and postprocessing, and its yaml config."""

    def initialize(self, context):
        super().initialize(context)
        self.scale = float(context.model_yaml_config["handler"]["scale"])

    def preprocess(self, data):
        return [torch.from_numpy(np.array(data["x"])) * self.scale]

    def postprocess(self, data):
        return {"y": data.numpy(), "argmax": data.argmax(dim=1)}
'''

FUNCTION_HANDLER = '''
import torch

from helpers import offset  # a sibling file shipped with --extra-files

_state = {}


def initialize(context):
    _state["model"] = torch.jit.load(context.system_properties["model_dir"] + "/mlp.pt")


def predict(data, context):
    with torch.inference_mode():
        return {"y": _state["model"](torch.from_numpy(data["x"].copy())) + offset()}
'''


def test_custom_handlers_class_and_function(tmp_path, artifacts, serve):
    store = tmp_path / "store"
    config = mlp_config(handler={"scale": 2})
    config["tensors"]["outputs"].append({"name": "argmax", "datatype": "INT64", "shape": [-1]})
    build_archive(store / "cls.mar", model_name="cls", version="1", serialized_file=artifacts.mlp_script,
                  handler=models.write_text(tmp_path / "doubling.py", CLASS_HANDLER), config=config)
    helpers = models.write_text(tmp_path / "helpers.py", "def offset():\n    return 100.0\n")
    fn = models.write_text(tmp_path / "fn_handler.py", FUNCTION_HANDLER)
    build_archive(store / "fn.mar", model_name="fn", version="1", serialized_file=artifacts.mlp_script,
                  handler=f"{fn}:predict", extra_files=[helpers], config=mlp_config())
    _, c = serve(store)
    out = c.infer("cls", {"x": X})
    np.testing.assert_allclose(out["y"], expected(artifacts, X * 2), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(out["argmax"], expected(artifacts, X * 2).argmax(axis=1))
    np.testing.assert_allclose(c.infer("fn", {"x": X})["y"], expected(artifacts) + 100.0, rtol=1e-5)
    assert [m.name for m in c.model_metadata("cls").outputs] == ["y", "argmax"]


def test_handler_problems_are_load_failures_with_reasons(tmp_path, artifacts, serve):
    store = tmp_path / "store"
    bad_import = models.write_text(tmp_path / "bad_import.py", "import no_such_module_anywhere\n")
    two = models.write_text(tmp_path / "two.py", "from torch_service.handler import BaseHandler\n"
                                                 "class A(BaseHandler): pass\nclass B(BaseHandler): pass\n")
    empty = models.write_text(tmp_path / "empty.py", "X = 1\n")
    crash = models.write_text(tmp_path / "crash.py", "from torch_service.handler import BaseHandler\n"
                                                     "class C(BaseHandler):\n    def initialize(self, context):\n"
                                                     "        raise OSError('labels.json missing')\n")
    for name, handler in (("imp", bad_import), ("two", two), ("empty", empty), ("crash", crash)):
        build_archive(store / f"{name}.mar", model_name=name, version="1", serialized_file=artifacts.mlp_script,
                      handler=handler, config=mlp_config())
    folder = build_archive(store / "builtin", model_name="builtin", version="1", as_folder=True,
                           serialized_file=artifacts.mlp_script, config=mlp_config())
    manifest = json.loads((folder / MANIFEST_PATH).read_text())
    manifest["model"]["handler"] = "image_classifier"  # a TorchServe built-in we do not have
    (folder / MANIFEST_PATH).write_text(json.dumps(manifest))
    build_archive(store / "noconf.mar", model_name="noconf", version="1", serialized_file=artifacts.mlp_script)
    _, c = serve(store)
    reasons = {e.name: e.reason for e in c.repository_index()}
    assert "failed to import: ModuleNotFoundError" in reasons["imp"]
    assert "several handler classes (A, B)" in reasons["two"]
    assert "defines no handler" in reasons["empty"]
    assert "OSError: labels.json missing" in reasons["crash"]
    assert "neither a built-in handler (base_handler) nor a file" in reasons["builtin"]
    assert "names no configFile" in reasons["noconf"] and "tensors" in reasons["noconf"]
