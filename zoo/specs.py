"""What each zoo model is, framework-free: its contract, properties, batching and parity tolerance.

Both exports (torch archive and SavedModel) are written from these specs, so the two services can
only disagree on the contract if one export is wrong, which the build checks.

Property conventions (grammar: `client.parity.properties`; both services enforce the input ones
before the model runs, `server_core.contract`; the parity suite generates inputs from them):
- `"<input>.range": "lo,hi"`: integer input values lie in [lo, hi), float values in [lo, hi].
- `"<input>.max_shape"` / `"<input>.min_shape": "d0,d1,..."`: the largest / smallest size of each
  dimension, 0 where unbounded (e.g. a text model's sequence length is bounded by its position table).
- `"<input>.shape_as": "<other input>"`: both inputs have the same shape (a mask and its ids).
- `"classification_output": "<output>"`: that output holds class scores; compare top-1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from client.messages import TensorSpec


@dataclass(frozen=True)
class Tolerance:
    """An elementwise bound for every output: |a - b| <= atol + rtol * max(|a|, |b|) (the parity
    suite's rule). `why` justifies it (docs/numerics.md has the measurements)."""

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
    batching: Batching | None  # None: no dynamic batching (each request runs as it comes)
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
    properties={"classification_output": "logits", "x.range": "0,16"},
    batching=Batching(max_batch_size=32, batch_timeout_micros=2000),
    tolerance=Tolerance(atol=1e-4, rtol=1e-5, why=(
        "three FP32 GEMMs (K <= 128) on logits up to ~30: another kernel or batch size moves them by "
        "<= 3.8e-6, <= 2% of this bound (50x headroom); TF32 (4.5e-3) or one weight off by 1% "
        "(>= 2.7e-3) lands 19x or more outside it")),
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
    batching=Batching(max_batch_size=16, batch_timeout_micros=5000),  # TF Serving refuses larger requests
    tolerance=Tolerance(atol=1e-4, rtol=1e-4, why=(
        "20 convolutions with reductions of up to 4608 terms, summed in different orders by "
        "Eigen/oneDNN and ATen: <= 2.9e-6 on logits of magnitude ~2 (oneDNN on or off, batch 1 or 8), "
        "<= 2.4% of this bound (40x headroom for other CPUs and FP32 GPU kernels); TF32 (2e-3) lands "
        "15x outside it")),
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
                "input_ids.max_shape": "0,128", "attention_mask.max_shape": "0,128",
                "input_ids.min_shape": "1,1", "attention_mask.shape_as": "input_ids"},
    # Unbatched on both sides: TF Serving's batching concatenates requests along the batch axis only,
    # so two sequence lengths in one batch fail the whole batch ("Tensors with name ... from different
    # tasks have different shapes and padding is turned off"), and padding would return a padded
    # last_hidden_state. A request still carries as many rows as it likes.
    batching=None,
    tolerance=Tolerance(atol=1e-4, rtol=1e-4, why=(
        "unit-scale LayerNorm outputs after matmuls with K <= 512, an erf GELU and a softmax: "
        "<= 2.6e-6, <= 2% of this bound (50x headroom); TF32 (2.6e-3), the tanh GELU or Keras' "
        "default LayerNorm epsilon lands outside it")),
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
