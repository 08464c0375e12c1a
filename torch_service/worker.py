"""Inference workers of one model version: one handler instance per worker, run on the batcher's
worker threads under `torch.inference_mode`, outputs checked against the declared signature.

A handler that raises fails only the requests of its batch: they get INTERNAL with a generic
message and a reference, the traceback goes to the log once, and the worker keeps serving. Two
exception types mean the request's content broke the model after the contract checks passed, and
answer INVALID_ARGUMENT in the words tf_service uses (`server_core.contract.InputRejected`): an
IndexError (an index computed from the inputs, e.g. an embedding lookup) and an AssertionError (a
`torch.export` program's guard on its input shapes, e.g. two inputs' sequence lengths that differ).
"""

from __future__ import annotations

import logging
import queue
import uuid
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from client.codec import shape_str
from client.datatypes import datatype_of
from client.messages import TensorSpec
from server_core.contract import InputRejected
from server_core.errors import ResourceExhausted, ServingError
from server_core.signature import shape_matches

from .devices import ThreadBudget
from .handler import Context
from .tensors import to_numpy

log = logging.getLogger("tandem.torch.worker")
# What a model raises when the request's content (not the server) is wrong: see the module docstring.
_CONTENT_ERRORS = (IndexError, AssertionError)


def _rows(inputs: Mapping[str, np.ndarray]) -> int:
    for array in inputs.values():
        return int(array.shape[0]) if array.ndim else 1
    return 0


class WorkerPool:
    """`run_batch(inputs) -> outputs` for the batcher; `close()` releases the handlers."""

    def __init__(self, name: str, version: str, outputs: Sequence[TensorSpec],
                 workers: Sequence[tuple[object, Context]], threads: ThreadBudget | None = None):
        self.label = f"model '{name}' version {version}"
        self._threads = threads
        self.outputs = tuple(outputs)
        self.workers = tuple(workers)  # (handler, context) per worker, for inspection
        self._free: queue.SimpleQueue = queue.SimpleQueue()
        for worker in workers:
            self._free.put(worker)
        self._devices = {str(ctx.device) for _, ctx in workers}
        self._datatypes: dict[np.dtype, str] = {}  # output dtype -> OIP datatype, as seen so far

    def run_batch(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        handler, context = self._free.get()
        if self._threads is not None:
            self._threads.enter_worker_thread()
        try:
            with torch.inference_mode():
                produced = handler.handle(inputs, context)
            return self._check(produced)
        except ServingError:
            raise
        except _CONTENT_ERRORS as e:
            raise InputRejected(context.model_name, f"{type(e).__name__}: {e}") from None
        except torch.OutOfMemoryError:
            log.warning("%s ran out of memory on %s with a batch of %d rows", self.label, context.device,
                        _rows(inputs))
            if context.device.type == "cuda":
                torch.cuda.empty_cache()
            raise ResourceExhausted(f"{self.label} ran out of device memory on a batch of {_rows(inputs)} rows; "
                                    "retry later or with fewer rows") from None
        except Exception:
            ref = uuid.uuid4().hex[:12]
            log.exception("%s: the handler failed on a batch of %d rows on %s (ref %s)", self.label,
                          _rows(inputs), context.device, ref)
            raise ServingError(f"{self.label} failed on this request's batch (ref {ref}; details are in the "
                               "server log)") from None
        finally:
            self._free.put((handler, context))

    def _check(self, produced) -> dict[str, np.ndarray]:
        if type(produced) is not dict and not isinstance(produced, Mapping):
            raise self._bad(f"the handler returned a {type(produced).__name__}; expected a mapping of output "
                            "name -> tensor (one row per input row)")
        outputs = {}
        datatypes = self._datatypes
        for spec in self.outputs:
            if spec.name not in produced:
                raise self._bad(f"the handler produced no output '{spec.name}' (it returned: "
                                f"{', '.join(map(str, produced)) or 'nothing'})")
            try:
                array = to_numpy(produced[spec.name])
                datatype = datatypes.get(array.dtype)
                if datatype is None:
                    datatype = datatype_of(array)
                    if array.dtype.kind not in "OSU":  # strings' dtypes vary with their length
                        datatypes[array.dtype] = datatype
            except TypeError as e:
                raise self._bad(f"output '{spec.name}': {e}") from None
            if datatype != spec.datatype or not shape_matches(spec.shape, array.shape):
                raise self._bad(f"output '{spec.name}' is {datatype} {shape_str(array.shape)}, but the model "
                                f"declares {spec.datatype} {shape_str(spec.shape)}")
            outputs[spec.name] = array
        return outputs

    def _bad(self, what: str) -> ServingError:
        log.error("%s: %s", self.label, what)
        return ServingError(f"{self.label} broke its declared signature: {what}")

    def close(self) -> None:
        """Drop the handlers (and with them the models); free cached GPU memory."""
        while True:
            try:
                self._free.get_nowait()
            except queue.Empty:
                break
        if any(d.startswith("cuda") for d in self._devices) and torch.cuda.is_available():
            torch.cuda.empty_cache()
