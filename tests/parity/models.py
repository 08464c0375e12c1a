"""Test models for the parity suite, served by the real server core.

`ParityLoader(...)` serves the same small model set as the echo backend's `add_sub` plus a
classifier, a masked "text" model, a BYTES model and an unbatched model, with knobs that make one
server differ from another the way a badly ported model would."""

from __future__ import annotations

import contextlib

import numpy as np

from client.messages import TensorSpec
from server_core.errors import InvalidArgument
from server_core.model import ServedModel, Signature
from server_core.repository import Loader, RepositoryBackend
from server_core.runner import BackgroundServer
from server_core.settings import ServerSettings

PLATFORM = "parity_test"
CLASSES, FEATURES, VOCAB, HIDDEN = 4, 8, 50, 6
WEIGHTS = np.random.default_rng(1234).standard_normal((FEATURES, CLASSES)).astype(np.float32)
EMBEDDING = np.random.default_rng(99).standard_normal((VOCAB, HIDDEN)).astype(np.float32)


def fp32(name, *shape):
    return TensorSpec(name, "FP32", tuple(shape))


class ParityLoader(Loader):
    """`error`: added to add_sub's OUTPUT0 where INPUT0 > 2 (a rare, data-dependent bug);
    `weight_shift`: added to the classifier's first class column (shifts its decisions);
    `narrow`: add_sub's INPUT0 declared [-1, 8] (a different signature);
    `text_datatype`: the text model's input_ids datatype."""

    platform = PLATFORM

    def __init__(self, *, error: float = 0.0, weight_shift: float = 0.0, narrow: bool = False,
                 text_datatype: str = "INT64"):
        self.error, self.weight_shift, self.narrow, self.text_datatype = error, weight_shift, narrow, text_datatype
        self.models = {"add_sub": self._add_sub, "classifier": self._classifier, "text": self._text,
                       "words": self._words, "single": self._single}

    def names(self):
        return list(self.models)

    def load(self, name):
        return [self.models[name](name)]

    def _served(self, name, inputs, outputs, run, properties=None):
        return ServedModel(name, "1", Signature(tuple(inputs), tuple(outputs)), run, platform=PLATFORM,
                           properties=properties)

    def _add_sub(self, name):
        error = np.float32(self.error)

        def run(inputs):
            a, b = inputs["INPUT0"], inputs["INPUT1"]
            return {"OUTPUT0": a + b + np.where(a > 2.0, error, np.float32(0)), "OUTPUT1": a - b}
        width = 8 if self.narrow else 16
        ins = [fp32("INPUT0", -1, width), fp32("INPUT1", -1, 16)]
        return self._served(name, ins, [fp32("OUTPUT0", -1, 16), fp32("OUTPUT1", -1, 16)], run)

    def _classifier(self, name):
        weights = WEIGHTS.copy()
        weights[:, 0] += np.float32(self.weight_shift)

        def run(inputs):
            return {"logits": inputs["x"] @ weights}
        return self._served(name, [fp32("x", -1, FEATURES)], [fp32("logits", -1, CLASSES)], run,
                            {"classification_output": "logits"})

    def _text(self, name):
        """Masked mean of token embeddings; refuses ids outside [0, VOCAB) and masks that are not a
        0/1 padding mask with at least one token per row (what a generic generator must get right)."""
        def run(inputs):
            ids, mask = inputs["input_ids"], inputs["attention_mask"]
            if ids.shape != mask.shape:
                raise InvalidArgument(f"input_ids {ids.shape} and attention_mask {mask.shape} differ in shape")
            if ids.size and (ids.min() < 0 or ids.max() >= VOCAB):
                raise InvalidArgument(f"input_ids must be in [0, {VOCAB})")
            if not np.isin(mask, (0, 1)).all() or (mask.sum(axis=1) == 0).any():
                raise InvalidArgument("attention_mask must be 0/1 with at least one 1 per row")
            weights = mask.astype(np.float32)[..., None]
            pooled = (EMBEDDING[ids.astype(np.int64)] * weights).sum(axis=1) / weights.sum(axis=1)
            return {"pooled": pooled.astype(np.float32)}
        ins = [TensorSpec("input_ids", self.text_datatype, (-1, -1)), TensorSpec("attention_mask", "INT64", (-1, -1))]
        return self._served(name, ins, [fp32("pooled", -1, HIDDEN)], run, {"input_ids.range": f"0,{VOCAB}"})

    def _words(self, name):
        def run(inputs):
            words = inputs["text"]
            upper = np.array([w.upper() for w in words.reshape(-1)], dtype=object).reshape(words.shape)
            lengths = np.array([len(w) for w in words.reshape(-1)], dtype=np.int64).reshape(words.shape)
            return {"upper": upper, "length": lengths}
        ins = [TensorSpec("text", "BYTES", (-1,))]
        return self._served(name, ins, [TensorSpec("upper", "BYTES", (-1,)), TensorSpec("length", "INT64", (-1,))],
                            run)

    def _single(self, name):
        """No batch axis: one sample of [3] per request."""
        def run(inputs):
            return {"y": inputs["x"] * np.float32(2)}
        return self._served(name, [fp32("x", 3)], [fp32("y", 3)], run)


@contextlib.contextmanager
def serve(loader: Loader, models=None, token: str | None = None):
    """A real server on a free 127.0.0.1 port; yields its HOST:PORT and stops it afterwards."""
    with BackgroundServer(RepositoryBackend(loader, models), ServerSettings(token=token)) as server:
        yield server.address
