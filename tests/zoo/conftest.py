"""Shared, expensive things built once per session: the PyTorch source models (with their parity
inputs and reference outputs) and a whole zoo built by the real command in a temporary folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SEED = 0


@dataclass
class Source:
    """One zoo model made in PyTorch the way the build makes it."""

    spec: object  # zoo.specs.ZooModel
    module: object  # torch.nn.Module, eval mode
    inputs: dict[str, np.ndarray]  # the parity inputs, contract names
    labels: np.ndarray | None
    reference: dict[str, np.ndarray]  # the module's outputs on `inputs`
    state: dict[str, np.ndarray]  # numpy state dict


@pytest.fixture(scope="session")
def source():
    """source(name) -> Source, each model made once per session."""
    from zoo import recipes
    from zoo.build import LABELS, prepare
    from zoo.specs import MODELS

    cache: dict[str, Source] = {}

    def get(name: str) -> Source:
        if name not in cache:
            spec = MODELS[name]
            made = prepare(spec, SEED)
            inputs = made.inputs(spec)
            reference = recipes.run(made.module, inputs, [s.name for s in spec.outputs])
            cache[name] = Source(spec, made.module, inputs, made.parity.get(LABELS), reference,
                                 recipes.state_dict_numpy(made.module))
        return cache[name]

    return get


@pytest.fixture(scope="session")
def twin(source):
    """twin(name) -> the Keras twin with weights ported from source(name), made once per session."""
    from zoo.tf_export import keras_twin

    cache = {}

    def get(name: str):
        if name not in cache:
            src = source(name)
            cache[name] = keras_twin(src.spec, src.state)
        return cache[name]

    return get


def run_zoo(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("TF_ENABLE_ONEDNN_OPTS", None)
    return subprocess.run([sys.executable, "-m", "zoo", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


@pytest.fixture(scope="session")
def zoo_dir(tmp_path_factory) -> Path:
    """A full zoo, built by `python -m zoo build` in a fresh process (read-only for the tests)."""
    out = tmp_path_factory.mktemp("zoo")
    result = run_zoo("build", "--out", str(out), "--seed", str(SEED), "--quiet")
    assert result.returncode == 0, f"zoo build failed:\n{result.stdout}\n{result.stderr[-4000:]}"
    return out


@pytest.fixture(scope="session")
def zoo_doc(zoo_dir) -> dict:
    return json.loads((zoo_dir / "zoo.json").read_text())


@pytest.fixture(scope="session")
def exported(zoo_dir, tmp_path_factory):
    """exported(name) -> (torch program module from the .mar, SavedModel serving fn), loaded once."""
    import zipfile

    import torch

    from zoo.tf_export import load_serving

    cache = {}
    unpacked = tmp_path_factory.mktemp("unpacked")

    def get(name: str):
        if name not in cache:
            with zipfile.ZipFile(zoo_dir / "torch" / f"{name}.mar") as archive:
                path = archive.extract(f"{name}.pt2", unpacked / name)
            cache[name] = (torch.export.load(path).module(), load_serving(zoo_dir / "tf" / name / "1"))
        return cache[name]

    return get
