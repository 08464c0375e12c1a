"""The numerics switches: oneDNN and TF32 off, the operator's own setting kept."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tf_service import numerics

ROOT = Path(__file__).resolve().parents[2]


def test_environment_defaults_keep_what_the_operator_set():
    env = {"TF_ENABLE_ONEDNN_OPTS": "1"}
    numerics.prepare_environment(env)
    assert env == {"TF_ENABLE_ONEDNN_OPTS": "1", "NVIDIA_TF32_OVERRIDE": "0"}
    child = numerics.child_environment({"PATH": "/bin"})
    assert child["NVIDIA_TF32_OVERRIDE"] == "0" and child["TF_ENABLE_ONEDNN_OPTS"] == "0" and child["PATH"] == "/bin"


def test_embedded_backend_runs_tensorflow_with_tf32_and_onednn_off(tmp_path):
    code = ("import os, argparse\n"
            "from tf_service import cli\n"
            f"args = cli.build_parser().parse_args(['--model-base-path', {str(tmp_path)!r}, '--backend', 'embedded'])\n"
            "cli.make_backend('embedded', args, None, None)\n"
            "import tensorflow as tf\n"
            "assert os.environ['TF_ENABLE_ONEDNN_OPTS'] == '0'\n"
            "assert not tf.config.experimental.tensor_float_32_execution_enabled()\n"
            "print('OK')\n")
    env = {k: v for k, v in __import__("os").environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env,
                            timeout=120)
    assert result.returncode == 0 and "OK" in result.stdout, result.stderr[-3000:]
