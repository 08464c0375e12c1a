"""The switches that change TensorFlow's numerics, set so that tf_service answers as torch_service
does (docs/numerics.md): oneDNN's reordered CPU kernels off, TF32 off on GPUs."""

from __future__ import annotations

import os

# What a TensorFlow process (ours, or a managed tensorflow_model_server) needs in its environment;
# NVIDIA_TF32_OVERRIDE=0 is the only TF32 switch that reaches the TF Serving binary.
ENVIRONMENT = {"TF_ENABLE_ONEDNN_OPTS": "0", "NVIDIA_TF32_OVERRIDE": "0"}


def prepare_environment(environ=os.environ) -> None:
    """Before TensorFlow is imported: keep a value the operator set, else ours."""
    for key, value in ENVIRONMENT.items():
        environ.setdefault(key, value)


def apply(tf) -> None:
    """After import, before any op runs: full FP32 matmuls and convolutions on GPUs."""
    tf.config.experimental.enable_tensor_float_32_execution(False)


def child_environment(environ=os.environ) -> dict[str, str]:
    """The environment for a managed tensorflow_model_server."""
    return {**ENVIRONMENT, **environ}
