"""How each zoo model gets its weights, in PyTorch, deterministically from a seed.

- digits-mlp: trained (Adam, mini-batches) on the digits training split; standardisation buffers
  from the training set.
- resnet18: torchvision's He initialisation, BatchNorm scales/shifts drawn away from 1/0, then the
  running statistics calibrated on photo crops (cumulative average over the calibration batches),
  so inference-mode BatchNorm uses real, non-trivial statistics.
- text-encoder: weights drawn at trained-model scale (projections N(0, 1/fan_in), so attention is
  peaked rather than uniform; non-trivial LayerNorm scales and biases), so that every ported tensor
  visibly matters in the output.

All global RNG use happens inside `torch.random.fork_rng`, so building does not disturb the caller.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from .data import DigitsSplit
from .torch_models.digits_mlp import DigitsMLP
from .torch_models.resnet import ResNet18
from .torch_models.text_encoder import TextEncoder


def train_digits(split: DigitsSplit, seed: int, config: Mapping, *, epochs: int = 40, batch_size: int = 64,
                 lr: float = 3e-3, weight_decay: float = 1e-4) -> tuple[DigitsMLP, dict]:
    """Train the MLP; returns it in eval mode and {train_accuracy, test_accuracy}.

    Single-threaded: the model is tiny, so threads only add synchronisation (and, on a busy machine,
    OpenMP spin-waits that make it 10x slower), and one thread sums in the same order on every
    machine, so the weights do not depend on the core count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train_digits(split, seed, config, epochs, batch_size, lr, weight_decay)
    finally:
        torch.set_num_threads(threads)


def _train_digits(split, seed, config, epochs, batch_size, lr, weight_decay) -> tuple[DigitsMLP, dict]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = DigitsMLP(config["in_features"], tuple(config["hidden"]), config["classes"])
        x = torch.from_numpy(split.x_train)
        y = torch.from_numpy(split.y_train)
        model.norm.mean.copy_(x.mean(0))
        model.norm.std.copy_(x.std(0).clamp_min(1.0))  # pixels that are always 0 would divide by 0
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
        order = torch.Generator().manual_seed(seed)
        model.train()
        for _ in range(epochs):
            for idx in torch.randperm(len(x), generator=order).split(batch_size):
                optimizer.zero_grad(set_to_none=True)
                nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
                optimizer.step()
            schedule.step()
    model.eval()
    return model, {"train_accuracy": _accuracy(model, split.x_train, split.y_train),
                   "test_accuracy": _accuracy(model, split.x_test, split.y_test)}


def _accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    with torch.inference_mode():
        predicted = model(torch.from_numpy(x)).argmax(-1).numpy()
    return float((predicted == y).mean())


def make_resnet18(seed: int, config: Mapping, calibration: np.ndarray, batch_size: int = 16) -> ResNet18:
    """He-initialised ResNet-18 with BatchNorm statistics calibrated on `calibration` (NCHW FP32)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ResNet18(tuple(config["layers"]), config["classes"])
        norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
        with torch.no_grad():
            for bn in norms:
                bn.weight.uniform_(0.5, 1.5)
                bn.bias.normal_(0.0, 0.2)
        momenta = [bn.momentum for bn in norms]
        for bn in norms:
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average over all calibration batches
        model.train()
        with torch.no_grad():
            for chunk in torch.from_numpy(calibration).split(batch_size):
                model(chunk)
        for bn, momentum in zip(norms, momenta):
            bn.momentum = momentum
    return model.eval()


def make_text_encoder(seed: int, config: Mapping) -> TextEncoder:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = TextEncoder(**config)
        with torch.no_grad():
            for module in model.modules():
                if isinstance(module, nn.Linear):
                    module.weight.normal_(0.0, 1.0 / math.sqrt(module.in_features))
                    module.bias.normal_(0.0, 0.1)
                elif isinstance(module, nn.Embedding):
                    module.weight.normal_(0.0, 1.0)
                elif isinstance(module, nn.LayerNorm):
                    module.weight.uniform_(0.5, 1.5)
                    module.bias.normal_(0.0, 0.1)
    return model.eval()


def state_dict_numpy(model: nn.Module) -> dict[str, np.ndarray]:
    """The model's parameters and buffers as numpy arrays (copies), keyed by PyTorch name."""
    return {name: tensor.detach().cpu().numpy().copy() for name, tensor in model.state_dict().items()}


def run(model: nn.Module, inputs: Mapping[str, np.ndarray], output_names: list[str]) -> dict[str, np.ndarray]:
    """The model's outputs on `inputs` (passed positionally, in contract order) as named numpy arrays."""
    with torch.inference_mode():
        result = model(*(torch.from_numpy(np.ascontiguousarray(a)) for a in inputs.values()))
    result = result if isinstance(result, tuple) else (result,)
    return {name: r.numpy() for name, r in zip(output_names, result)}
