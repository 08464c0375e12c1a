"""Start-up checks of the base path (no TensorFlow needed): an empty base path, torch_service's
archives, or a folder of base paths (the zoo's root) are a warning naming what was found and what was
expected, or an error (exit 2) with --strict; model folders linked out of the base path are not models."""

from __future__ import annotations

import subprocess
import sys

from tests.support.process import ROOT
from tf_service.store import ModelStore


def _strict(base) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tf_service", "--model-base-path", str(base), "--backend",
                           "tfserving", "--tfserving-address", "127.0.0.1:1", "--port", "0", "--metrics-port", "-1",
                           "--strict"], cwd=ROOT, capture_output=True, text=True, timeout=120)


def _saved_model(folder):
    folder.mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"")


def test_survey_names_what_was_found_and_what_was_expected(tmp_path):
    (tmp_path / "empty").mkdir()
    [empty] = ModelStore(tmp_path / "empty").survey()
    assert "holds no models: expected <name>/<integer version>/saved_model.pb" in empty

    torch = tmp_path / "torch"
    torch.mkdir()
    (torch / "mlp.mar").write_bytes(b"")
    (torch / "folder" / "MAR-INF").mkdir(parents=True)
    (torch / "folder" / "MAR-INF" / "MANIFEST.json").write_text("{}")
    [problem] = ModelStore(torch).survey()
    assert "torch_service model archives (folder, mlp.mar)" in problem and "--model-store" in problem

    zoo = tmp_path / "zoo"
    _saved_model(zoo / "tf" / "digits-mlp" / "1")
    (zoo / "torch").mkdir()
    (zoo / "torch" / "digits-mlp.mar").write_bytes(b"")
    [problem] = ModelStore(zoo).survey()
    assert "tf/ hold models of their own" in problem and "point --model-base-path at it" in problem

    good = tmp_path / "good"
    _saved_model(good / "add_sub" / "1")
    assert ModelStore(good).survey() == []


def test_strict_refuses_to_start_with_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    done = _strict(tmp_path / "empty")
    assert done.returncode == 2 and done.stdout == ""
    assert "tf_service: error: --model-base-path" in done.stderr and "holds no models" in done.stderr
    assert "(--strict)" in done.stderr and "Traceback" not in done.stderr


def test_model_folders_linked_out_of_the_base_path_are_not_models(tmp_path):
    _saved_model(tmp_path / "outside" / "secret" / "1")
    base = tmp_path / "base"
    _saved_model(base / "add_sub" / "1")
    (base / "secret").symlink_to(tmp_path / "outside" / "secret", target_is_directory=True)
    assert ModelStore(base).names() == ["add_sub"]
