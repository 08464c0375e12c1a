"""Keras twin of zoo.torch_models.resnet.ResNet18: NCHW input transposed to NHWC inside the graph,
explicit zero padding before every convolution (Keras 'same' pads stride-2 layers asymmetrically,
PyTorch symmetrically), BatchNorm with PyTorch's epsilon."""

from __future__ import annotations

import keras

BN_EPS = 1e-5  # PyTorch's default; Keras' is 1e-3


def _conv(x, filters: int, kernel: int, stride: int, pad: int, name: str):
    if pad:
        x = keras.layers.ZeroPadding2D(pad, name=f"{name}.pad")(x)
    return keras.layers.Conv2D(filters, kernel, strides=stride, padding="valid", use_bias=False, name=name)(x)


def _bn(x, name: str):
    return keras.layers.BatchNormalization(axis=-1, epsilon=BN_EPS, momentum=0.9, name=name)(x)


def _block(x, filters: int, stride: int, name: str):
    identity = x
    if stride != 1 or x.shape[-1] != filters:
        identity = _bn(_conv(x, filters, 1, stride, 0, f"{name}.downsample.0"), f"{name}.downsample.1")
    y = keras.layers.ReLU(name=f"{name}.relu1")(_bn(_conv(x, filters, 3, stride, 1, f"{name}.conv1"), f"{name}.bn1"))
    y = _bn(_conv(y, filters, 3, 1, 1, f"{name}.conv2"), f"{name}.bn2")
    return keras.layers.ReLU(name=f"{name}.relu2")(keras.layers.Add(name=f"{name}.add")([y, identity]))


def resnet18(layers: tuple[int, ...] = (2, 2, 2, 2), classes: int = 1000, image_size: int = 224) -> keras.Model:
    pixels = keras.Input((3, image_size, image_size), dtype="float32", name="pixel_values")
    x = keras.layers.Permute((2, 3, 1), name="nchw_to_nhwc")(pixels)
    x = keras.layers.ReLU(name="relu")(_bn(_conv(x, 64, 7, 2, 3, "conv1"), "bn1"))
    # Zero padding is exact for this max-pool: its inputs are ReLU outputs (>= 0), so a padded 0 never
    # exceeds the window's real maximum, as PyTorch's -inf padding would not either.
    x = keras.layers.ZeroPadding2D(1, name="maxpool.pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="maxpool")(x)
    for i, (blocks, filters) in enumerate(zip(layers, (64, 128, 256, 512)), start=1):
        for j in range(blocks):
            x = _block(x, filters, 2 if (i > 1 and j == 0) else 1, f"layer{i}.{j}")
    x = keras.layers.GlobalAveragePooling2D(name="avgpool")(x)
    logits = keras.layers.Dense(classes, name="fc")(x)
    return keras.Model(pixels, {"logits": logits}, name="resnet18")
