"""The model version type both backends serve: the shared `ServedModel` (whose contract checks refuse a
batching model's oversized request exactly as TF Serving does) on TF Serving's platform name."""

from __future__ import annotations

from server_core.model import ServedModel

PLATFORM = "tensorflow_savedmodel"


class TFModel(ServedModel):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("platform", PLATFORM)
        super().__init__(*args, **kwargs)
