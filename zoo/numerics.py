"""The framework switches that change FP32 results, set the same way for building and serving.

See docs/numerics.md. In short, for parity between the services:
- TensorFlow's oneDNN graph rewrites (on by default on x86 Linux CPUs) reorder reductions; they are
  switched by the environment variable TF_ENABLE_ONEDNN_OPTS, read once when TensorFlow loads.
- TF32 on NVIDIA Ampere+ GPUs rounds matmul/conv inputs to a 10-bit mantissa: TensorFlow enables it
  by default, PyTorch for cuDNN convolutions (not for matmuls). Both are turned off here;
  NVIDIA_TF32_OVERRIDE=0 turns it off for any process, including tensorflow_model_server.

Nothing happens at import; call the functions.
"""

from __future__ import annotations

import logging
import os
import sys

log = logging.getLogger("tandem.zoo")

ONEDNN_ENV = "TF_ENABLE_ONEDNN_OPTS"


def prefer_tf_onednn_off() -> bool:
    """Set TF_ENABLE_ONEDNN_OPTS=0 unless the caller chose a value or TensorFlow is already loaded
    (then it is too late and whatever TensorFlow read stays). Returns whether oneDNN will be off."""
    if "tensorflow" not in sys.modules:
        os.environ.setdefault(ONEDNN_ENV, "0")
    return os.environ.get(ONEDNN_ENV) == "0"


def tf_onednn_enabled() -> bool | None:
    """Whether the loaded TensorFlow runs its oneDNN rewrites (None if it cannot tell)."""
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:  # pragma: no cover - depends on TensorFlow's internals
        return None
    return bool(_pywrap_util_port.IsMklEnabled())


def configure_tf() -> None:
    """Full FP32 on GPUs: no TF32 in matmuls or convolutions."""
    import tensorflow as tf

    tf.config.experimental.enable_tensor_float_32_execution(False)


def configure_torch() -> None:
    """Full FP32 on GPUs: no TF32 in cuBLAS matmuls or cuDNN convolutions.

    Uses the `allow_tf32` flags: PyTorch >= 2.9 also has `fp32_precision` attributes, and mixing the
    two APIs can leave `allow_tf32` unreadable (RuntimeError), so a process should use one API only;
    this is the one every supported PyTorch understands, and setting it overrides the other."""
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


def describe() -> dict:
    """The switches as they stand in this process, for zoo.json."""
    info: dict[str, object] = {ONEDNN_ENV: os.environ.get(ONEDNN_ENV),
                               "NVIDIA_TF32_OVERRIDE": os.environ.get("NVIDIA_TF32_OVERRIDE")}
    if "tensorflow" in sys.modules:
        import tensorflow as tf

        info["tf_onednn_enabled"] = tf_onednn_enabled()
        info["tf_tf32_enabled"] = bool(tf.config.experimental.tensor_float_32_execution_enabled())
    if "torch" in sys.modules:
        import torch

        for key, flags in (("torch_cuda_matmul_allow_tf32", torch.backends.cuda.matmul),
                           ("torch_cudnn_allow_tf32", torch.backends.cudnn)):
            try:
                info[key] = bool(flags.allow_tf32)
            except RuntimeError:  # the process mixed allow_tf32 with the fp32_precision API
                info[key] = "mixed legacy and fp32_precision settings"
    return info
