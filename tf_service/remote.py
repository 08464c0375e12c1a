"""One model version served by TF Serving, on the shared core: the contract checks, stats, metrics and
draining of `ServedModel`, with a run function that is one Predict call, awaited on the event loop (no worker thread).

The shared batcher coalesces requests that queue up while Predicts are in flight (no added delay:
TF Serving does the timed batching), so concurrent callers cost fewer round trips. Each Predict
carries the batch's latest deadline and an `output_filter` of the outputs its requests asked for.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from server_core.batcher import BatchInfo, BatchingConfig
from server_core.model import ServedModel, Signature

from .config import ModelConfig
from .contract import Contract
from .served import TFModel
from .tfs_client import TFServingClient


class PredictRunner:
    def __init__(self, client: TFServingClient, model: str, version: int, contract: Contract):
        self.client = client
        self.model = model
        self.version = version
        self.contract = contract

    def _wanted(self, batch: BatchInfo) -> list[str]:
        everything = [s.name for s in self.contract.outputs]
        wanted: set[str] = set()
        for request in batch.contexts:
            asked = getattr(request, "outputs", ())
            if not asked:
                return everything
            wanted.update(asked)
        return [name for name in everything if name in wanted]

    async def __call__(self, inputs: Mapping[str, np.ndarray], batch: BatchInfo) -> dict[str, np.ndarray]:
        wanted = self._wanted(batch)
        keys, out_keys = self.contract.input_keys, self.contract.output_keys
        feeds = {keys[name]: array for name, array in inputs.items()}
        results = await self.client.predict(self.model, self.version, self.contract.signature, feeds,
                                            [out_keys[name] for name in wanted], batch.deadline)
        return {name: results[out_keys[name]] for name in wanted if out_keys[name] in results}


def batcher_config(config: ModelConfig, inflight: int) -> BatchingConfig:
    """Coalescing only (no delay), as many Predicts in flight as TF Serving can use, and the
    model's queue bound, so a full queue answers RESOURCE_EXHAUSTED here as it does embedded."""
    if config.batching is None:
        return BatchingConfig(max_batch_size=1, max_queue=256, workers=max(1, inflight), inline_below_s=0.0)
    b = config.batching
    base = b.batcher_config(delay=False, workers=2 * b.value("num_batch_threads"))
    return BatchingConfig(base.max_batch_size, 0.0, base.max_queue, base.workers, inline_below_s=0.0)


def remote_model(client: TFServingClient, name: str, version: int, contract: Contract, config: ModelConfig, *,
                 inflight: int, metrics=None) -> ServedModel:
    runner = PredictRunner(client, name, version, contract)
    return TFModel(name, str(version), Signature(contract.inputs, contract.outputs), runner,
                   batcher_config(config, inflight), properties=config.properties, metrics=metrics)
