"""The data the zoo trains, calibrates and checks on: all bundled with scikit-learn, nothing downloaded.

- digits: `sklearn.datasets.load_digits` (1797 8x8 images, pixel values 0..16), a stratified
  train / held-out split.
- images: 224x224 crops of the two photographs scikit-learn ships (`china.jpg`, `flower.jpg`),
  decoded with TensorFlow (no PIL here), ImageNet-normalised, NCHW.
- text: token sequences of varied length with their padding masks.

Every function is deterministic in its seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
SAMPLE_PHOTOS = ("china.jpg", "flower.jpg")
PAD_ID, CLS_ID, SEP_ID = 0, 1, 2


@dataclass(frozen=True)
class DigitsSplit:
    x_train: np.ndarray  # FP32 [n, 64], raw pixel values 0..16
    y_train: np.ndarray  # INT64 [n]
    x_test: np.ndarray
    y_test: np.ndarray


def digits_split(seed: int, test_fraction: float = 0.2) -> DigitsSplit:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data.astype(np.float32), digits.target.astype(np.int64), test_size=test_fraction,
        random_state=seed, stratify=digits.target)
    return DigitsSplit(x_train, y_train, x_test, y_test)


def sample_photos() -> list[np.ndarray]:
    """scikit-learn's bundled photographs as uint8 HWC RGB arrays (427x640)."""
    import tensorflow as tf

    folder = resources.files("sklearn.datasets") / "images"
    return [tf.io.decode_jpeg(folder.joinpath(name).read_bytes(), channels=3).numpy() for name in SAMPLE_PHOTOS]


def image_crops(photos: list[np.ndarray], count: int, seed: int, size: int = 224) -> np.ndarray:
    """`count` random size x size crops (random photo, offset and horizontal flip), as FP32 NCHW
    normalised with the ImageNet mean and std, the input a torchvision ResNet expects."""
    rng = np.random.default_rng(seed)
    crops = np.empty((count, 3, size, size), dtype=np.float32)
    for i in range(count):
        photo = photos[rng.integers(len(photos))]
        top = rng.integers(photo.shape[0] - size + 1)
        left = rng.integers(photo.shape[1] - size + 1)
        crop = photo[top:top + size, left:left + size].astype(np.float32) / 255.0
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        crops[i] = ((crop - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)
    return crops


def token_batch(count: int, seed: int, vocab_size: int, max_length: int, min_length: int = 4
                ) -> tuple[np.ndarray, np.ndarray]:
    """(input_ids, attention_mask), INT64 [count, L], L the longest drawn length: [CLS] tokens [SEP]
    then [PAD] (id 0, mask 0). Token ids are Zipf-distributed over the vocabulary, like words."""
    if not 3 <= min_length <= max_length:
        raise ValueError(f"need 3 <= min_length <= max_length, got {min_length}, {max_length}")
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_length, max_length + 1, size=count)
    lengths[0] = max_length  # at least one full-length row: the batch is max_length wide
    width = int(lengths.max())
    ids = np.full((count, width), PAD_ID, dtype=np.int64)
    mask = np.zeros((count, width), dtype=np.int64)
    first_word = SEP_ID + 1
    for i, n in enumerate(lengths):
        words = first_word + (rng.zipf(1.3, size=n - 2) - 1) % (vocab_size - first_word)
        ids[i, :n] = np.concatenate([[CLS_ID], words, [SEP_ID]])
        mask[i, :n] = 1
    return ids, mask
