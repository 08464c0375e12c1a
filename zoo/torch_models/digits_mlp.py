"""An MLP classifier for 8x8 digit images (64 pixel values in 0..16), standardisation included."""

from __future__ import annotations

import itertools

import torch
from torch import nn


class Standardize(nn.Module):
    """(x - mean) / std with the statistics of the training set, kept as buffers."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, features: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(features))
        self.register_buffer("std", torch.ones(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class DigitsMLP(nn.Module):
    def __init__(self, in_features: int = 64, hidden: tuple[int, ...] = (128, 64), classes: int = 10):
        super().__init__()
        self.norm = Standardize(in_features)
        sizes = (in_features, *hidden)
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))
        self.out = nn.Linear(sizes[-1], classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        for layer in self.hidden:
            x = torch.relu(layer(x))
        return self.out(x)
