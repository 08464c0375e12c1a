"""Model warm-up, shared by both services: run a model version's warm-up requests through its run
function before it is handed to the repository, so the first real requests do not pay for graph
tracing, kernel selection and allocation, and a model whose warm-up fails never reports READY.

Each service reads its own warm-up file (torch_service.warmup: `warmup.npz` in the archive;
tf_service.warmup: TF Serving's `assets.extra/tf_serving_warmup_requests`) into a list of requests
({input name: array}) and calls `warm_up()` from its loader, on the loading thread. Every request is
checked against the model's signature and request contract as a real one would be, then run;
the model must produce every declared output. A failure raises `WarmupError`, which fails the load:
RepositoryIndex shows the model UNAVAILABLE with the reason. Success is logged with the count:

    model digits-mlp version 1 warmed up: 2 request(s) from warmup.npz in 41.3 ms
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from .errors import ServingError, Unavailable
from .signature import check_inputs

log = logging.getLogger("tandem.warmup")

WarmupRequest = Mapping[str, np.ndarray]


class WarmupError(Unavailable):
    """A warm-up request was malformed or the model failed on it."""


def warm_up(model, requests: Sequence[WarmupRequest], run: Callable[[dict[str, np.ndarray]], Mapping],
            source: str) -> int:
    """Run `requests` through `run` (the model's batch function) after the checks a real request gets;
    `model` is the ServedModel they are for. Returns how many ran; raises WarmupError."""
    t0 = time.perf_counter()
    total = len(requests)
    declared = [s.name for s in model.signature.outputs]
    for i, request in enumerate(requests, 1):
        where = f"warm-up request {i} of {total} from {source}"
        inputs = {name: np.asarray(value) for name, value in request.items()}
        try:
            check_inputs(model.name, model.signature.inputs, inputs)
            model.contract.check(inputs)
        except ServingError as e:
            raise WarmupError(f"{where} does not fit the model: {e.message}") from None
        try:
            outputs = run(inputs)
        except Exception as e:  # noqa: BLE001 - any failure of the model on its warm-up fails the load
            message = e.message if isinstance(e, ServingError) else f"{type(e).__name__}: {e}"
            raise WarmupError(f"{where} failed: {message}") from None
        missing = [n for n in declared if n not in outputs]
        if missing:
            raise WarmupError(f"{where}: the model did not produce output(s) {', '.join(missing)}")
    if total:
        log.info("model %s version %s warmed up: %d request(s) from %s in %.1f ms", model.name, model.version, total,
                 source, (time.perf_counter() - t0) * 1e3)
    return total
