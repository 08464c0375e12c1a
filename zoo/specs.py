"""What each zoo model is, framework-free: its contract, properties, batching and parity tolerance.

Both exports (torch archive and SavedModel) are written from these specs, so the two services can
only disagree on the contract if one export is wrong, which the build checks.

Property conventions, read by the parity suite:
- `"<input>.range": "lo,hi"`: integer input values lie in [lo, hi).
- `"<input>.max_shape": "d0,d1,..."`: the largest size of each variable (-1) dimension, 0 where
  unbounded (e.g. a text model's sequence length is bounded by its position table).
- `"classification_output": "<output>"`: that output holds class scores; compare top-1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from client.messages import TensorSpec


@dataclass(frozen=True)
class Tolerance:
    """An elementwise bound: |a - b| <= atol + rtol * |b| (numpy.allclose), for every output."""

    atol: float
    rtol: float
    why: str

    def as_dict(self) -> dict:
        return {"atol": self.atol, "rtol": self.rtol, "why": self.why}


@dataclass(frozen=True)
class Batching:
    """Dynamic batching, in TF Serving's terms; the torch archive gets the TorchServe equivalents."""

    max_batch_size: int
    batch_timeout_micros: int
    max_enqueued_batches: int = 64
    num_batch_threads: int = 1

    def as_dict(self) -> dict:
        return {"max_batch_size": self.max_batch_size, "batch_timeout_micros": self.batch_timeout_micros,
                "max_enqueued_batches": self.max_enqueued_batches, "num_batch_threads": self.num_batch_threads}


@dataclass(frozen=True)
class ZooModel:
    name: str
    description: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    properties: Mapping[str, str]
    batching: Batching
    tolerance: Tolerance
    config: Mapping[str, object] = field(default_factory=dict)  # architecture hyper-parameters

    def contract(self) -> dict:
        def specs(items):
            return [{"name": s.name, "datatype": s.datatype, "shape": list(s.shape)} for s in items]

        return {"inputs": specs(self.inputs), "outputs": specs(self.outputs)}


DIGITS = ZooModel(
    name="digits-mlp",
    description="MLP (64-128-64-10, ReLU) trained in PyTorch on scikit-learn's digits (8x8 images, "
                "pixel values 0..16); standardisation is part of the model",
    inputs=(TensorSpec("x", "FP32", (-1, 64)),),
    outputs=(TensorSpec("logits", "FP32", (-1, 10)),),
    properties={"classification_output": "logits", "x.range": "0,17"},
    batching=Batching(max_batch_size=32, batch_timeout_micros=2000),
    tolerance=Tolerance(atol=1e-4, rtol=1e-4, why=(
        "three small FP32 GEMMs (K <= 128) on logits of magnitude ~10-30; measured differences are "
        "a few ULP (~1e-6 absolute), so 1e-4 leaves two orders of magnitude of headroom while a "
        "perturbed weight (>= 1e-3) still fails")),
    config={"in_features": 64, "hidden": (128, 64), "classes": 10},
)

RESNET18 = ZooModel(
    name="resnet18",
    description="torchvision ResNet-18 layer structure (BasicBlock x [2,2,2,2], 1000 classes), seeded "
                "He initialisation, BatchNorm statistics calibrated on images, then frozen; NCHW input "
                "normalised with the ImageNet mean/std",
    inputs=(TensorSpec("pixel_values", "FP32", (-1, 3, 224, 224)),),
    outputs=(TensorSpec("logits", "FP32", (-1, 1000)),),
    properties={"classification_output": "logits", "layout": "NCHW"},
    batching=Batching(max_batch_size=8, batch_timeout_micros=5000),
    tolerance=Tolerance(atol=2e-3, rtol=1e-3, why=(
        "20 convolutions with reductions of up to 4608 terms, evaluated by different kernels "
        "(oneDNN/Eigen vs ATen) in different orders; FP32 round-off grows with depth to ~1e-5 of the "
        "logit scale (measured max ~5e-5 absolute with TF oneDNN off, larger with it on); bounds "
        "are ~20x the measurement"),
    ),
    config={"layers": (2, 2, 2, 2), "classes": 1000, "image_size": 224},
)

TEXT_ENCODER = ZooModel(
    name="text-encoder",
    description="BERT-style encoder (2 layers, hidden 128, 2 heads, FFN 512, vocab 1000, 128 positions, "
                "post-LayerNorm eps 1e-12, exact GELU, padding mask); outputs the last hidden state and "
                "the tanh-pooled first token",
    inputs=(TensorSpec("input_ids", "INT64", (-1, -1)), TensorSpec("attention_mask", "INT64", (-1, -1))),
    outputs=(TensorSpec("last_hidden_state", "FP32", (-1, -1, 128)), TensorSpec("pooler_output", "FP32", (-1, 128))),
    properties={"input_ids.range": "0,1000", "attention_mask.range": "0,2",
                "input_ids.max_shape": "0,128", "attention_mask.max_shape": "0,128"},
    batching=Batching(max_batch_size=16, batch_timeout_micros=2000),
    tolerance=Tolerance(atol=1e-4, rtol=1e-3, why=(
        "LayerNorm outputs of unit scale after matmuls with K <= 512 and a softmax; measured "
        "differences ~1e-6; 1e-4 keeps ~50x headroom and still catches a perturbed weight"),
    ),
    config={"vocab_size": 1000, "hidden": 128, "layers": 2, "heads": 2, "intermediate": 512,
            "max_positions": 128, "layer_norm_eps": 1e-12},
)

MODELS: dict[str, ZooModel] = {m.name: m for m in (DIGITS, RESNET18, TEXT_ENCODER)}


def select(names: str | list[str] | None) -> list[ZooModel]:
    """The models named (comma-separated string or list), in zoo order; all when None."""
    if names is None:
        return list(MODELS.values())
    wanted = [n.strip() for n in (names.split(",") if isinstance(names, str) else names) if n.strip()]
    unknown = [n for n in wanted if n not in MODELS]
    if unknown:
        raise ValueError(f"unknown model(s) {', '.join(unknown)}; the zoo has {', '.join(MODELS)}")
    return [m for m in MODELS.values() if m.name in wanted]
