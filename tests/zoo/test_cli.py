"""The command line and the package's import hygiene (cheap: no framework loads here)."""

from __future__ import annotations

import subprocess
import sys

from .conftest import ROOT, run_zoo


def test_list_shows_every_model_and_its_contract():
    result = run_zoo("list", timeout=60)
    assert result.returncode == 0, result.stderr
    assert "digits-mlp: x: FP32 [-1, 64] -> logits: FP32 [-1, 10]" in result.stdout
    assert "resnet18: pixel_values: FP32 [-1, 3, 224, 224] -> logits: FP32 [-1, 1000]" in result.stdout
    assert "text-encoder: input_ids: INT64 [-1, -1], attention_mask: INT64 [-1, -1]" in result.stdout


def test_unknown_model_is_a_usage_error_naming_the_choices(tmp_path):
    result = run_zoo("build", "--out", str(tmp_path / "out"), "--models", "digits-mlp,nope", timeout=60)
    assert result.returncode == 2
    assert "unknown model(s) nope; the zoo has digits-mlp, resnet18, text-encoder" in result.stderr
    assert not (tmp_path / "out").exists()


def test_build_requires_out():
    result = run_zoo("build", timeout=60)
    assert result.returncode == 2 and "--out" in result.stderr


def test_importing_zoo_loads_no_framework():
    code = ("import sys, zoo, zoo.specs, zoo.port, zoo.diffs, zoo.numerics, zoo.build, zoo.cli, zoo.data; "
            "print(sorted(m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
