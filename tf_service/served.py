"""The model version type both backends serve: the shared `ServedModel`, plus TF Serving's rule that a
batching model refuses a request with more rows than its max_batch_size (so the embedded backend
answers such a request as TF Serving would, with the same status and message)."""

from __future__ import annotations

from server_core.backend import InferRequest, InferResult
from server_core.errors import InvalidArgument
from server_core.model import ServedModel
from server_core.signature import check_inputs

PLATFORM = "tensorflow_savedmodel"


class TFModel(ServedModel):
    def __init__(self, *args, max_rows: int | None = None, **kwargs):
        kwargs.setdefault("platform", PLATFORM)
        super().__init__(*args, **kwargs)
        self.max_rows = max_rows  # a batching model's max_batch_size; None when it does not batch

    async def infer(self, request: InferRequest) -> InferResult:
        if self.max_rows is not None:
            for name, array in request.inputs.items():
                if array.ndim and array.shape[0] > self.max_rows:
                    check_inputs(self.name, self.signature.inputs, request.inputs)  # signature mistakes first
                    raise InvalidArgument(f"input '{name}': batch of {array.shape[0]} rows is larger than model "
                                          f"'{self.name}' accepts (max_batch_size {self.max_rows}); split the request")
        return await super().infer(request)
