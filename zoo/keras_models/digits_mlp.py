"""Keras twin of zoo.torch_models.digits_mlp.DigitsMLP."""

from __future__ import annotations

import keras

from .layers import Standardize


def digits_mlp(in_features: int = 64, hidden: tuple[int, ...] = (128, 64), classes: int = 10) -> keras.Model:
    x_in = keras.Input((in_features,), dtype="float32", name="x")
    x = Standardize(name="norm")(x_in)
    for i, units in enumerate(hidden):
        x = keras.layers.Dense(units, activation="relu", name=f"hidden.{i}")(x)
    logits = keras.layers.Dense(classes, name="out")(x)
    return keras.Model(x_in, {"logits": logits}, name="digits_mlp")
