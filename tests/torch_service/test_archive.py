"""Archives: our writer (function and CLI), and archives laid out exactly as torch-model-archiver
writes them, served unchanged."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import yaml

from torch_service.archive import MANIFEST_PATH, build_archive, parse_manifest
from torch_service.cli import main

from .conftest import MLP_TENSORS, mlp_config
from .service import REPO_ROOT


def reference(artifacts, x):
    import torch

    with torch.no_grad():
        return artifacts.mlp(torch.from_numpy(x)).numpy()


def test_build_archive_zip_has_archiver_manifest_and_files(tmp_path, artifacts):
    out = build_archive(tmp_path / "mlp.mar", model_name="mlp", version="3", serialized_file=artifacts.mlp_script,
                        config=mlp_config(batchSize=4), extra_files=[artifacts.identity])
    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
        manifest = json.loads(z.read(MANIFEST_PATH))
        config = yaml.safe_load(z.read("model-config.yaml"))
    assert names == {MANIFEST_PATH, "mlp.pt", "model-config.yaml", "identity.pt"}
    assert list(manifest) == ["createdOn", "runtime", "model", "archiverVersion"]
    assert manifest["model"] == {"modelName": "mlp", "serializedFile": "mlp.pt", "handler": "base_handler",
                                 "modelVersion": "3", "configFile": "model-config.yaml"}
    assert config["batchSize"] == 4 and config["tensors"] == MLP_TENSORS


def test_build_archive_folder_custom_handler_and_refusals(tmp_path, artifacts):
    handler = tmp_path / "my_handler.py"
    handler.write_text("def handle(data, context):\n    return data\n")
    out = build_archive(tmp_path / "store" / "m", model_name="m", version="1", serialized_file=artifacts.identity,
                        handler=f"{handler}:handle", config={"tensors": MLP_TENSORS}, as_folder=True)
    manifest = parse_manifest((out / MANIFEST_PATH).read_bytes())
    assert manifest.handler == "my_handler.py:handle" and (out / "my_handler.py").is_file()
    assert manifest.files()["handler"] == "my_handler.py"
    with pytest.raises(FileExistsError, match="overwrite"):
        build_archive(out, model_name="m", version="1", serialized_file=artifacts.identity, as_folder=True)
    build_archive(out, model_name="m", version="2", serialized_file=artifacts.identity, as_folder=True,
                  overwrite=True)
    assert parse_manifest((out / MANIFEST_PATH).read_bytes()).model_version == "2"
    with pytest.raises(ValueError, match="model name"):
        build_archive(tmp_path / "x.mar", model_name="../evil", version="1", serialized_file=artifacts.identity)
    with pytest.raises(ValueError, match="two files"):
        build_archive(tmp_path / "x.mar", model_name="x", version="1", serialized_file=artifacts.identity,
                      extra_files=[artifacts.identity])
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        build_archive(tmp_path / "x.mar", model_name="x", version="1", serialized_file=tmp_path / "nope.pt")
    assert not (tmp_path / "x.mar").exists()
    assert not [p for p in (tmp_path / "store").iterdir() if p.name.startswith(".")], "temporary left behind"


def _archiver_style_mar(tmp_path, artifacts, *, model_file=False, folder=False):
    """What torch-model-archiver 0.12 does: copy the artifacts into a scratch folder, zip it with
    os.walk and relative names (ZIP_DEFLATED, no directory entries), then writestr the manifest
    (json indent=2, modelVersion "1.0", basenames only). `folder` mimics --archive-format no-archive."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    serialized = artifacts.mlp_state if model_file else artifacts.mlp_script
    shutil.copy(serialized, scratch)
    if model_file:
        shutil.copy(artifacts.mlp_model_file, scratch)
    (scratch / "model-config.yaml").write_text(yaml.safe_dump({"minWorkers": 1, "batchSize": 4, "maxBatchDelay": 10,
                                                               "responseTimeout": 120, "tensors": MLP_TENSORS}))
    model = {"modelName": "mlp", "serializedFile": serialized.name, "handler": "base_handler"}
    if model_file:
        model["modelFile"] = artifacts.mlp_model_file.name
    model.update(modelVersion="1.0", configFile="model-config.yaml")
    manifest = json.dumps({"createdOn": "25/11/2025 18:40:00", "runtime": "python", "model": model,
                           "archiverVersion": "0.12.0"}, indent=2)
    store = tmp_path / "store"
    store.mkdir()
    if folder:
        shutil.copytree(scratch, store / "mlp")
        (store / "mlp" / "MAR-INF").mkdir()
        (store / "mlp" / "MAR-INF" / "MANIFEST.json").write_text(manifest)
        return store
    with zipfile.ZipFile(store / "mlp.mar", "w", zipfile.ZIP_DEFLATED) as z:
        for root, _dirs, files in os.walk(scratch):
            for f in files:
                path = os.path.join(root, f)
                z.write(path, os.path.relpath(path, scratch))
        z.writestr(os.path.join("MAR-INF", "MANIFEST.json"), manifest)
    return store


@pytest.mark.parametrize("model_file,folder", [(False, False), (True, False), (False, True)],
                         ids=["torchscript-mar", "eager-mar", "no-archive-folder"])
def test_torch_model_archiver_layout_serves_unchanged(tmp_path, artifacts, serve, model_file, folder):
    store = _archiver_style_mar(tmp_path, artifacts, model_file=model_file, folder=folder)
    _, c = serve(store)
    meta = c.model_metadata("mlp")
    assert meta.versions == ("1.0",) and meta.platform == "pytorch"
    assert [(t.name, t.datatype, t.shape) for t in meta.inputs] == [("x", "FP32", (-1, 8))]
    x = np.random.default_rng(1).standard_normal((4, 8)).astype(np.float32)
    np.testing.assert_allclose(c.infer("mlp", {"x": x})["y"], reference(artifacts, x), rtol=1e-5, atol=1e-6)


def test_archive_command_writes_a_servable_archive(tmp_path, artifacts, serve, capsys):
    config = tmp_path / "model-config.yaml"
    config.write_text(yaml.safe_dump(mlp_config()))
    store = tmp_path / "store"
    common = ["archive", "--model-name", "mlp", "--serialized-file", str(artifacts.mlp_state),
              "--model-file", str(artifacts.mlp_model_file), "-c", str(config)]
    assert main([*common, "-v", "1", "--output", str(store / "mlp" / "1.mar")]) == 0
    assert capsys.readouterr().out.strip() == str(store / "mlp" / "1.mar")
    assert main([*common, "-v", "2", "--output", str(store / "mlp" / "2"), "--archive-format", "no-archive"]) == 0
    assert main([*common, "-v", "1", "--output", str(store / "mlp" / "1.mar")]) == 1
    assert "already exists" in capsys.readouterr().err
    _, c = serve(store)
    assert c.model_metadata("mlp").versions == ("1", "2")
    x = np.ones((2, 8), np.float32)
    np.testing.assert_allclose(c.infer("mlp", {"x": x}, version="1")["y"], reference(artifacts, x), rtol=1e-5)


def test_archive_command_needs_no_torch(tmp_path, artifacts):
    """Writing archives is a packaging step: it must not load torch (the CLI path, as users run it)."""
    out = tmp_path / "id.mar"
    code = ("import sys; from torch_service.cli import main; "
            f"rc = main(['archive', '--model-name', 'id', '--serialized-file', {str(artifacts.identity)!r}, "
            f"'--output', {str(out)!r}, '--archive-format', 'zip-store']); "
            "assert 'torch' not in sys.modules, 'torch was imported'; sys.exit(rc)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(out) as z:
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())
        assert json.loads(z.read(MANIFEST_PATH))["model"]["modelName"] == "id"
