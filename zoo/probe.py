"""`python -m zoo probe`: the measurements behind the tolerances in docs/numerics.md, reproducible.

For each model, on its parity inputs, against the PyTorch model (CPU, FP32):
- `keras port`: the Keras twin, whole batch in one call;
- `keras port, batch 1`: one sample per call (another GEMM blocking: what dynamic batching changes);
- `TF32 emulated`: weights and inputs rounded to TF32's 10-bit mantissa (a lower bound of what
  TF32 on an Ampere+ GPU does, which also rounds every intermediate matmul/conv input);
- `+1% <tensor>`: one large element of that tensor scaled by 1.01 on the Keras side, early, middle
  and late in the network: how small a porting error the tolerance still catches (> 100%) or not.

Run it with TF_ENABLE_ONEDNN_OPTS=1 or =0 to see what TensorFlow's oneDNN rewrites change (the
probe leaves an explicit setting alone and otherwise turns oneDNN off, as the build does).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from . import numerics
from .diffs import compare
from .specs import ZooModel, select

SINGLE_SAMPLES = 400  # samples run one per call for the batch-1 row (all of each parity file)

# Perturbed per model: a weight early, in the middle and late in the network.
PERTURBED = {
    "digits-mlp": ("hidden.0.weight", "hidden.1.weight", "out.weight"),
    "resnet18": ("layer1.0.conv1.weight", "layer3.0.conv2.weight", "fc.weight"),
    "text-encoder": ("encoder.layer.0.attention.self.query.weight", "encoder.layer.1.intermediate.dense.weight",
                     "pooler.dense.weight"),
}


def round_to_tf32(a: np.ndarray) -> np.ndarray:
    """FP32 -> nearest TF32 value (10 explicit mantissa bits), kept in FP32."""
    bits = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    return ((bits + np.uint32(0x1000)) & np.uint32(0xFFFFE000)).view(np.float32)


def _worst(diffs: Mapping[str, Mapping[str, float]]) -> tuple[float, float]:
    return (max(d["max_abs_diff"] for d in diffs.values()), max(d["tolerance_used"] for d in diffs.values()))


def probe_model(model: ZooModel, seed: int) -> list[tuple[str, float, float]]:
    """[(check, max |diff| over outputs, fraction of tolerance used)] for one model."""
    from . import recipes
    from .build import prepare
    from .tf_export import keras_twin, predict

    made = prepare(model, seed)
    inputs = made.inputs(model)
    reference = recipes.run(made.module, inputs, [s.name for s in model.outputs])
    state = recipes.state_dict_numpy(made.module)
    twin = keras_twin(model, state)
    rows = [("keras port", *_worst(compare(predict(twin, model, inputs), reference, model.tolerance)))]
    count = min(SINGLE_SAMPLES, len(next(iter(inputs.values()))))
    single = [predict(twin, model, {k: v[i:i + 1] for k, v in inputs.items()}) for i in range(count)]
    joined = {name: np.concatenate([s[name] for s in single]) for name in reference}
    head = {name: ref[:count] for name, ref in reference.items()}
    rows.append(("keras port, batch 1", *_worst(compare(joined, head, model.tolerance))))
    rounded = {k: round_to_tf32(v) if v.dtype == np.float32 and v.ndim >= 2 else v for k, v in state.items()}
    rounded_inputs = {k: round_to_tf32(v) if v.dtype == np.float32 else v for k, v in inputs.items()}
    rows.append(("TF32 emulated", *_worst(compare(predict(keras_twin(model, rounded), model, rounded_inputs),
                                                  reference, model.tolerance))))
    rng = np.random.default_rng(seed)
    for key in PERTURBED.get(model.name, ()):
        changed = dict(state)
        changed[key] = state[key].copy()
        flat = changed[key].reshape(-1)
        i = int(np.argmax(np.abs(flat) * rng.uniform(0.5, 1.0, flat.size)))  # a weight that is not ~0
        flat[i] *= 1.01
        rows.append((f"+1% {key}", *_worst(compare(predict(keras_twin(model, changed), model, inputs), reference,
                                                    model.tolerance))))
    return rows


def probe(models: str | list[str] | None = None, seed: int = 0) -> dict[str, list[tuple[str, float, float]]]:
    numerics.prefer_tf_onednn_off()
    import torch  # noqa: F401 - PyTorch before TensorFlow, as in the build

    numerics.configure_torch()
    numerics.configure_tf()
    return {model.name: probe_model(model, seed) for model in select(models)}


def table(results: Mapping[str, list[tuple[str, float, float]]]) -> str:
    onednn = numerics.tf_onednn_enabled()
    lines = [f"TensorFlow oneDNN: {'on' if onednn else 'off' if onednn is False else 'unknown'}",
             f"{'model':<14} {'check':<52} {'max |diff|':>11} {'of tolerance':>13}"]
    for name, rows in results.items():
        for check, diff, used in rows:
            lines.append(f"{name:<14} {check:<52} {diff:>11.2e} {used:>12.1%}")
    return "\n".join(lines)
