"""Custom Keras layers the PyTorch models need and Keras lacks in the exact form: a standardisation
with stored statistics, a sliced position table, a padding mask and masked scaled dot-product attention."""

from __future__ import annotations

import math

import keras
from keras import ops

MASKED_SCORE = -1e9  # must equal zoo.torch_models.text_encoder.MASKED_SCORE


class Standardize(keras.layers.Layer):
    """(x - mean) / std over the last axis, statistics stored as non-trainable weights."""

    def build(self, input_shape):
        features = input_shape[-1]
        self.mean = self.add_weight(shape=(features,), initializer="zeros", trainable=False, name="mean")
        self.std = self.add_weight(shape=(features,), initializer="ones", trainable=False, name="std")

    def call(self, x):
        return (x - self.mean) / self.std


class PositionEmbedding(keras.layers.Layer):
    """x [B, T, H] + table[:T]: learned absolute positions, T <= max_positions."""

    def __init__(self, max_positions: int, hidden: int, **kwargs):
        super().__init__(**kwargs)
        self.max_positions, self.hidden = max_positions, hidden

    def build(self, input_shape):
        self.embeddings = self.add_weight(shape=(self.max_positions, self.hidden), name="embeddings")

    def call(self, x):
        return x + self.embeddings[: ops.shape(x)[1]]


class KeepMask(keras.layers.Layer):
    """attention_mask [B, S] (1 = token, 0 = padding) -> bool [B, 1, 1, S], broadcast over heads and queries."""

    def call(self, attention_mask):
        return ops.expand_dims(ops.expand_dims(ops.greater(attention_mask, 0), 1), 1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1, 1, input_shape[1])


class MaskedAttention(keras.layers.Layer):
    """softmax(q k^T / sqrt(d) with masked keys set to MASKED_SCORE) v, per head.
    q, k, v: [B, T, N, D]; keep: bool [B, 1, 1, S]; returns [B, T, N, D]."""

    def call(self, q, k, v, keep):
        scale = 1.0 / math.sqrt(q.shape[-1])
        scores = ops.einsum("btnd,bsnd->bnts", q, k) * scale
        scores = ops.where(keep, scores, ops.full_like(scores, MASKED_SCORE))
        return ops.einsum("bnts,bsnd->btnd", ops.softmax(scores, axis=-1), v)

    def compute_output_shape(self, q_shape, k_shape, v_shape, keep_shape):
        return q_shape
