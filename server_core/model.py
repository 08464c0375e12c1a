"""A loaded model version behind the shared core: signature and contract checks (before any framework
runs: `server_core.signature`, `server_core.contract`), batching, stats, draining."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from client.messages import TensorSpec

from .backend import InferRequest, InferResult
from .batcher import Batcher, BatchingConfig, RunBatch
from .contract import RequestContract, RequestLimits
from .errors import ServingError, Unavailable
from .signature import check_inputs, check_requested_outputs, select_outputs
from .stats import ModelStats

_ACCEPTED_MAX = 1024


@dataclass(frozen=True)
class Signature:
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]


class ServedModel:
    """One version of one model: `await infer(request)`; `await stop()` drains in-flight requests."""

    def __init__(self, name: str, version: str, signature: Signature, run_batch: RunBatch,
                 batching: BatchingConfig | None = None, *, platform: str, properties=None, metrics=None,
                 on_stop=None, limits: RequestLimits | None = None):
        """`limits`: the server's default bound on one request's work (the model's properties may
        override it); a batching model's rows are bounded by its max_batch_size. Raises
        client.parity.properties.PropertyError when a declared property is malformed."""
        self.name = name
        self.version = version
        self.signature = signature
        self.platform = platform
        self.properties = dict(properties or {})
        batching = batching or BatchingConfig()
        max_batch_size = batching.max_batch_size if batching.max_batch_size > 1 else None
        self.contract = RequestContract(name, signature.inputs, self.properties, max_batch_size=max_batch_size,
                                        limits=limits)
        self.stats = ModelStats(name, version, metrics)
        self.batcher = Batcher(f"{name}:{version}", run_batch, batching, self.stats)
        self._output_names = tuple(s.name for s in signature.outputs)
        self._shape_only = (all(s.datatype != "BYTES" for s in signature.inputs)
                            and all(d.range is None for d in self.contract.declared.values()))
        self._accepted: set[tuple] = set()  # input (name, dtype, shape) combinations that passed _check
        self._drained: asyncio.Event | None = None  # set when the last request leaves during stop()
        self._accepting = False
        self._on_stop = on_stop

    def start(self) -> None:
        self.batcher.start()
        self._accepting = True

    async def infer(self, request: InferRequest) -> InferResult:
        if not self._accepting:
            raise Unavailable(f"model '{self.name}' version {self.version} is unloading")
        self._check(request.inputs)
        if request.outputs:
            check_requested_outputs(self.name, self.signature.outputs, request.outputs)
        stats = self.stats
        t0 = time.perf_counter_ns()
        stats.in_flight += 1
        ok, status, queue_ns = False, "INTERNAL", 0
        try:
            outputs, queue_ns = await self.batcher.submit(request.inputs, request.deadline, request)
            ok, status = True, "OK"
        except ServingError as e:
            status = e.code.name
            raise
        except asyncio.CancelledError:
            status = "CANCELLED"
            raise
        finally:
            stats.request_done(ok, time.perf_counter_ns() - t0, queue_ns, status)
            stats.in_flight -= 1
            if not stats.in_flight and self._drained is not None:
                self._drained.set()
        wanted = request.outputs or self._output_names
        for name in wanted:  # a model may skip outputs nobody asked for (e.g. a remote output_filter)
            if name not in outputs:
                raise ServingError(f"model '{self.name}' did not produce its declared output '{name}'")
        return InferResult(self.name, self.version, select_outputs(outputs, wanted), request.id)

    def _check(self, inputs) -> None:
        """The signature and contract checks. Where they depend on nothing but the inputs' names,
        datatypes and shapes (no BYTES input, no declared value range), a combination that passed
        once passes again: it is remembered (up to `_ACCEPTED_MAX`) and not checked twice."""
        key = None
        if self._shape_only:
            key = tuple((name, a.dtype, a.shape) for name, a in inputs.items())
            if key in self._accepted:
                return
        check_inputs(self.name, self.signature.inputs, inputs)
        self.contract.check(inputs)
        if key is not None:
            if len(self._accepted) >= _ACCEPTED_MAX:
                self._accepted.clear()
            self._accepted.add(key)

    async def stop(self, drain_timeout: float = 30.0) -> None:
        """Stop accepting, let in-flight requests finish (up to drain_timeout), then stop workers."""
        self._accepting = False
        if self.stats.in_flight:
            self._drained = asyncio.Event()
            try:
                await asyncio.wait_for(self._drained.wait(), drain_timeout)
            except (asyncio.TimeoutError, TimeoutError):
                pass
        await self.batcher.stop()
        if self._on_stop is not None:
            self._on_stop()
