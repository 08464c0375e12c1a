"""A small BERT-style encoder with Hugging Face BERT's parameter names (embeddings.word_embeddings,
encoder.layer.0.attention.self.query, ..., pooler.dense): post-LayerNorm blocks, exact GELU, a padding
mask on the keys. No token-type embeddings (the contract has no token_type_ids)."""

from __future__ import annotations

import math

import torch
from torch import nn

MASKED_SCORE = -1e9  # attention score of a masked key; a fully masked row attends uniformly


class Embeddings(nn.Module):
    def __init__(self, vocab_size: int, hidden: int, max_positions: int, eps: float):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab_size, hidden)
        self.position_embeddings = nn.Embedding(max_positions, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        positions = self.position_embeddings.weight[: input_ids.shape[1]]
        return self.LayerNorm(self.word_embeddings(input_ids) + positions)


class SelfAttention(nn.Module):
    def __init__(self, hidden: int, heads: int):
        super().__init__()
        self.heads, self.head_dim = heads, hidden // heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)

    def _split(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, H] -> [B, heads, T, head_dim]
        return x.view(x.shape[0], x.shape[1], self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        q, k, v = self._split(self.query(x)), self._split(self.key(x)), self._split(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        scores = torch.where(keep, scores, torch.full_like(scores, MASKED_SCORE))
        context = torch.matmul(torch.softmax(scores, dim=-1), v)  # [B, heads, T, head_dim]
        return context.transpose(1, 2).reshape(x.shape[0], x.shape[1], -1)


class DenseLayerNorm(nn.Module):
    """LayerNorm(dense(x) + residual): BERT's SelfOutput and Output."""

    def __init__(self, cin: int, hidden: int, eps: float):
        super().__init__()
        self.dense = nn.Linear(cin, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(x) + residual)


class Attention(nn.Module):
    def __init__(self, hidden: int, heads: int, eps: float):
        super().__init__()
        self.self = SelfAttention(hidden, heads)
        self.output = DenseLayerNorm(hidden, hidden, eps)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        return self.output(self.self(x, keep), x)


class Intermediate(nn.Module):
    def __init__(self, hidden: int, intermediate: int):
        super().__init__()
        self.dense = nn.Linear(hidden, intermediate)
        self.approximate = "none"  # exact (erf) GELU, as BERT; "tanh" is the approximation Keras defaults to

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.gelu(self.dense(x), approximate=self.approximate)


class Layer(nn.Module):
    def __init__(self, hidden: int, heads: int, intermediate: int, eps: float):
        super().__init__()
        self.attention = Attention(hidden, heads, eps)
        self.intermediate = Intermediate(hidden, intermediate)
        self.output = DenseLayerNorm(intermediate, hidden, eps)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        x = self.attention(x, keep)
        return self.output(self.intermediate(x), x)


class Encoder(nn.Module):
    def __init__(self, layers: int, hidden: int, heads: int, intermediate: int, eps: float):
        super().__init__()
        self.layer = nn.ModuleList(Layer(hidden, heads, intermediate, eps) for _ in range(layers))

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        for layer in self.layer:
            x = layer(x, keep)
        return x


class Pooler(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(x[:, 0]))


class TextEncoder(nn.Module):
    """(input_ids INT64 [B, T], attention_mask INT64 [B, T]) ->
    (last_hidden_state FP32 [B, T, hidden], pooler_output FP32 [B, hidden]); T <= max_positions."""

    def __init__(self, vocab_size: int = 1000, hidden: int = 128, layers: int = 2, heads: int = 2,
                 intermediate: int = 512, max_positions: int = 128, layer_norm_eps: float = 1e-12):
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden size {hidden} is not a multiple of {heads} heads")
        self.embeddings = Embeddings(vocab_size, hidden, max_positions, layer_norm_eps)
        self.encoder = Encoder(layers, hidden, heads, intermediate, layer_norm_eps)
        self.pooler = Pooler(hidden)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        keep = (attention_mask > 0)[:, None, None, :]  # [B, 1, 1, T]: the keys that may be attended
        hidden = self.encoder(self.embeddings(input_ids), keep)
        return hidden, self.pooler(hidden)
