"""Keras twin of zoo.torch_models.text_encoder.TextEncoder. The attention projections are EinsumDense
layers with per-head kernels ([hidden, heads, head_dim] in, [heads, head_dim, hidden] out), the
layout of Keras' own MultiHeadAttention; the masked attention itself is zoo's MaskedAttention so
that padding semantics are pinned down on both sides."""

from __future__ import annotations

import keras
from keras import ops

from .layers import KeepMask, MaskedAttention, PositionEmbedding


def _dense_layer_norm(x, residual, units: int, eps: float, name: str):
    y = keras.layers.Dense(units, name=f"{name}.dense")(x)
    return keras.layers.LayerNormalization(epsilon=eps, name=f"{name}.LayerNorm")(
        keras.layers.Add(name=f"{name}.add")([y, residual]))


def _attention(x, keep, hidden: int, heads: int, eps: float, name: str):
    head_dim = hidden // heads

    def project(part):
        return keras.layers.EinsumDense("btd,dnh->btnh", output_shape=(None, heads, head_dim), bias_axes="nh",
                                        name=f"{name}.self.{part}")(x)

    context = MaskedAttention(name=f"{name}.self")(project("query"), project("key"), project("value"), keep)
    y = keras.layers.EinsumDense("btnh,nhd->btd", output_shape=(None, hidden), bias_axes="d",
                                 name=f"{name}.output.dense")(context)
    return keras.layers.LayerNormalization(epsilon=eps, name=f"{name}.output.LayerNorm")(
        keras.layers.Add(name=f"{name}.output.add")([y, x]))


def text_encoder(vocab_size: int = 1000, hidden: int = 128, layers: int = 2, heads: int = 2,
                 intermediate: int = 512, max_positions: int = 128, layer_norm_eps: float = 1e-12) -> keras.Model:
    if hidden % heads:
        raise ValueError(f"hidden size {hidden} is not a multiple of {heads} heads")
    input_ids = keras.Input((None,), dtype="int64", name="input_ids")
    attention_mask = keras.Input((None,), dtype="int64", name="attention_mask")
    x = keras.layers.Embedding(vocab_size, hidden, name="embeddings.word_embeddings")(input_ids)
    x = PositionEmbedding(max_positions, hidden, name="embeddings.position_embeddings")(x)
    x = keras.layers.LayerNormalization(epsilon=layer_norm_eps, name="embeddings.LayerNorm")(x)
    keep = KeepMask(name="keep_mask")(attention_mask)
    for i in range(layers):
        name = f"encoder.layer.{i}"
        x = _attention(x, keep, hidden, heads, layer_norm_eps, f"{name}.attention")
        h = keras.layers.Dense(intermediate, name=f"{name}.intermediate.dense")(x)
        h = keras.layers.Activation(lambda t: ops.gelu(t, approximate=False), name=f"{name}.intermediate.gelu")(h)
        x = _dense_layer_norm(h, x, hidden, layer_norm_eps, f"{name}.output")
    pooled = keras.layers.Dense(hidden, activation="tanh", name="pooler.dense")(x[:, 0, :])
    return keras.Model([input_ids, attention_mask], {"last_hidden_state": x, "pooler_output": pooled},
                       name="text_encoder")
