"""Dynamic batching: a bounded queue, one future per request, batches formed on max size or max
delay (time.monotonic), run on worker threads, results and errors fanned back to each request.

Executions that take less than `inline_below_s` run on the event loop itself: for a tiny model the
hop to a worker thread and back costs more than the model, and a worker thread that needs the GIL
while the loop holds it waits up to the interpreter's switch interval (5 ms). The decision follows
a moving average of the executions run on the loop; while executions run on worker threads, one in
`PROBE_EVERY` is tried on the loop again when their average (inflated by those GIL waits) is within
`PROBE_BELOW` times the bound. One slow sample (the OS preempting the thread) moves an average
little (`_average`). A model that is never fast stays on the worker threads; a model
configured with `inline_below_s=0` (one that waits on another server) never runs on the loop.
A request for an unbatched model that finds it idle runs at once inside `submit()`
(`_quiet_and_fast`); requests for a batching model always queue and batch. The first request of a
batch waits up to `max_delay_s` for company, except at a quiet model (its last batch held one request
and nobody else is in flight), which runs it at once unless configured `quiet_skips_delay=False`.

A run function may be a coroutine function, `async def run(inputs, batch: BatchInfo)`, for a model
that waits on another server (tf_service's tfserving backend): it is awaited on the event loop, no
worker thread, by the same `workers` worker tasks (so at most that many at once); requests that
queue while they are busy coalesce into batches as for any model.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import inspect
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import cast

import numpy as np

from .errors import DeadlineExceeded, ResourceExhausted, ServingError, Unavailable
from .stats import ModelStats

RunBatch = Callable[[dict[str, np.ndarray]], Mapping[str, np.ndarray]]
AsyncRunBatch = Callable[[dict[str, np.ndarray], "BatchInfo"], Awaitable[Mapping[str, np.ndarray]]]
PROBE_EVERY = 16  # executions on worker threads between two trials on the loop
PROBE_BELOW = 10  # ... tried only while worker-thread executions average under this many inline_below_s
_INF = float("inf")


@dataclass(frozen=True)
class BatchingConfig:
    max_batch_size: int = 1  # rows per execution; <= 1 disables batching
    max_delay_s: float = 0.0  # how long the first request of a batch waits for company
    max_queue: int = 256  # requests waiting; more -> RESOURCE_EXHAUSTED
    workers: int = 1  # executions that may run at once
    # Executions whose recent average is below this run on the event loop itself: for tiny models a
    # hop to a worker thread costs more than the model. 0 always uses the worker threads.
    inline_below_s: float = 0.001
    # A quiet model (the last batch held one request and nobody else is in flight) runs a request at
    # once instead of waiting out max_delay_s for company that is unlikely to come. False: the first
    # request of a batch always waits up to max_delay_s (as TorchServe's and Triton's batchers do), so
    # requests that arrive spread out within the delay still meet.
    quiet_skips_delay: bool = True

    def __post_init__(self):
        if self.max_queue < 1 or self.workers < 1 or self.max_delay_s < 0:
            raise ValueError("max_queue and workers must be >= 1, max_delay_s >= 0")


class _Item:
    __slots__ = ("inputs", "rows", "key", "future", "enqueued", "deadline", "context")

    def __init__(self, inputs, rows, key, future, deadline=None, context=None):
        self.inputs, self.rows, self.key, self.future = inputs, rows, key, future
        self.enqueued = time.monotonic()
        self.deadline, self.context = deadline, context


@dataclass(frozen=True)
class BatchInfo:
    """What a run function may ask about the batch it is running (see `running_batch`)."""

    deadline: float | None  # the latest time.monotonic() deadline of its requests; None if one has none
    contexts: tuple  # each request's `context` as given to submit(), in batch order


_running = threading.local()


def running_batch() -> BatchInfo | None:
    """Inside a (synchronous) run function: the batch being run (for models that call another server
    and must pass the callers' deadline and requested outputs on). None outside a run. Coroutine run
    functions are given it as their second argument instead."""
    batch = getattr(_running, "batch", None)
    return None if batch is None else _info(batch)


def _info(batch: list[_Item]) -> BatchInfo:
    deadlines = [i.deadline for i in batch]
    return BatchInfo(None if None in deadlines else max(deadlines), tuple(i.context for i in batch))


def _is_async(run) -> bool:
    return inspect.iscoroutinefunction(run) or inspect.iscoroutinefunction(type(run).__call__)


def _batch_key(inputs: Mapping[str, np.ndarray]):
    """Requests batch together only when every input agrees in name, dtype and trailing dims."""
    return tuple((name, a.dtype.str, a.shape[1:]) for name, a in inputs.items())


def _rows(inputs: Mapping[str, np.ndarray]) -> int | None:
    firsts = {a.shape[0] if a.ndim else None for a in inputs.values()}
    return firsts.pop() if len(firsts) == 1 else None


class Batcher:
    """Runs `run_batch` over batches of requests. `await submit(inputs, deadline)` -> outputs."""

    def __init__(self, name: str, run_batch: RunBatch | AsyncRunBatch, config: BatchingConfig, stats: ModelStats):
        self.name = name
        self._async = _is_async(run_batch)
        self._run = cast(RunBatch, run_batch)  # the one matching self._async is used
        self._arun = cast(AsyncRunBatch, run_batch)
        self.config = config
        self._stats = stats
        self._queue: collections.deque[_Item] = collections.deque()
        self._waiters: list[asyncio.Future] = []  # idle workers waiting for an arrival
        self._workers: list[asyncio.Task] = []
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._closed = True
        self._inline_s = _INF  # moving average of executions run on the loop (see the module docstring)
        self._pool_s = _INF  # ... and of those run on worker threads
        self._until_probe = 2
        self._outstanding = 0  # submitted and not yet answered
        self._running = 0  # requests inside executing batches
        self._last_batch = 0  # requests in the batch formed last

    def start(self) -> None:
        if not self._async:
            self._pool = concurrent.futures.ThreadPoolExecutor(self.config.workers,
                                                               thread_name_prefix=f"run-{self.name}")
        self._closed = False
        self._workers = [asyncio.ensure_future(self._work()) for _ in range(self.config.workers)]

    async def stop(self) -> None:
        """Refuse new requests, fail the queued ones (UNAVAILABLE), stop the workers."""
        self._closed = True
        while self._queue:
            item = self._queue.popleft()
            if not item.future.done():
                item.future.set_exception(Unavailable(f"model '{self.name}' was unloaded"))
        for w in self._workers:
            w.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []
        if self._pool:
            self._pool.shutdown(wait=True)

    def queued(self) -> int:
        return len(self._queue)

    async def submit(self, inputs: dict[str, np.ndarray], deadline: float | None = None, context=None):
        """Queue one request; returns (outputs, queue_ns). Raises ResourceExhausted when full,
        DeadlineExceeded when the deadline passes first; a cancelled caller leaves the queue."""
        if self._closed:
            raise Unavailable(f"model '{self.name}' is not serving")
        if len(self._queue) >= self.config.max_queue:
            self._purge()
            if len(self._queue) >= self.config.max_queue:
                raise ResourceExhausted(f"model '{self.name}': queue full ({self.config.max_queue} requests "
                                        "waiting); retry later or raise the queue size")
        rows = _rows(inputs) if self.config.max_batch_size > 1 else None
        if not self._async and self._quiet_and_fast():
            return self._run_now(_Item(inputs, rows, None, None, deadline, context))
        key = _batch_key(inputs) if rows is not None else None
        loop = asyncio.get_running_loop()
        item = _Item(inputs, rows, key, loop.create_future(), deadline, context)
        self._outstanding += 1
        self._queue.append(item)
        self._notify()
        # A timer, not asyncio.wait_for: no extra task per request on the hot path.
        timer = None if deadline is None else loop.call_at(
            loop.time() + max(0.0, deadline - time.monotonic()), self._expire, item.future)
        try:
            return await item.future
        finally:
            self._outstanding -= 1
            if timer is not None:
                timer.cancel()

    def _quiet_and_fast(self) -> bool:
        """An unbatched model with nothing queued, running or in flight, that runs on the loop: the
        worker would run this request alone at once, so run it here and save the two hand-offs
        between tasks (worker and caller). A batching model always queues, so that requests that
        arrive together meet in a batch."""
        return (self.config.max_batch_size <= 1 and not (self._queue or self._outstanding or self._running)
                and self._inline_s < self.config.inline_below_s)

    def _run_now(self, item: _Item):
        outputs, timing = _run_batch(self._run, [item])
        self._record(1, timing, item.rows or 1, True)
        return outputs[0], 0

    def _inline_next(self) -> bool:
        """Whether the next execution runs on the event loop (see the module docstring)."""
        limit = self.config.inline_below_s
        if self._inline_s < limit:
            return True
        if self._pool_s < PROBE_BELOW * limit:
            self._until_probe -= 1
            if self._until_probe <= 0:
                self._until_probe = PROBE_EVERY
                return True
        return False

    def _record(self, requests: int, timing, rows: int, inline: bool) -> None:
        took = sum(timing) / 1e9
        if inline:
            self._inline_s = _average(self._inline_s, took)
        else:
            self._pool_s = _average(self._pool_s, took)
        self._last_batch = requests
        self._stats.execution_done(rows, *timing)

    def _expire(self, future: asyncio.Future) -> None:
        if not future.done():
            future.set_exception(DeadlineExceeded(f"model '{self.name}': deadline exceeded before the "
                                                  "request could be answered"))

    def _purge(self) -> None:
        self._queue = collections.deque(i for i in self._queue if not i.future.done())

    def _take(self, key=None, room: int | None = None) -> _Item | None:
        """The oldest live item (matching `key` and fitting `room` rows when given)."""
        queue = self._queue
        while queue and queue[0].future.done():
            queue.popleft()
        if not queue:
            return None
        first = queue[0]
        if key is None or (first.key == key and first.rows <= room):
            return queue.popleft()
        for item in list(queue):
            if item.future.done():
                queue.remove(item)
                continue
            if item.key == key and item.rows <= room:
                queue.remove(item)
                return item
        return None

    def _notify(self) -> None:
        """Wake the workers waiting for an arrival."""
        waiters, self._waiters = self._waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)

    async def _arrival(self, timeout: float | None = None) -> None:
        """Wait until the next arrival, or `timeout` seconds (a timer, not a task per wait)."""
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiters.append(waiter)
        timer = None if timeout is None else loop.call_later(timeout, _release, waiter)
        try:
            await waiter
        finally:
            if timer is not None:
                timer.cancel()

    async def _next(self) -> _Item:
        while True:
            item = self._take()
            if item is not None:
                return item
            await self._arrival()

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._form_and_execute(loop, await self._next())

    async def _form_and_execute(self, loop, first: _Item) -> None:
        cfg = self.config
        batch = [first]
        rows = first.rows or 0
        if first.key is not None and rows < cfg.max_batch_size:
            until = first.enqueued + cfg.max_delay_s
            while rows < cfg.max_batch_size:
                item = self._take(first.key, cfg.max_batch_size - rows)
                if item is not None:
                    batch.append(item)
                    rows += item.rows
                    continue
                left = until - time.monotonic()
                if left <= 0 or (cfg.quiet_skips_delay and self._last_batch <= 1
                                 and self._outstanding <= len(batch) + self._running):
                    break  # out of time, or a quiet model: nobody else in flight and the last batch
                    # held one request, so waiting would only add latency
                await self._arrival(left)
        batch = [i for i in batch if not i.future.done()]
        self._last_batch = len(batch)
        if batch:
            await self._execute(loop, batch)

    async def _execute(self, loop, batch: list[_Item]) -> None:
        started = time.monotonic()
        self._running += len(batch)
        inline = not self._async and self._inline_next()  # coroutine runs are always awaited on the loop
        try:
            if self._async:
                outputs, timing = await _await_batch(self._arun, batch)
            elif inline:
                outputs, timing = _run_batch(self._run, batch)
            else:
                outputs, timing = await loop.run_in_executor(self._pool, _run_batch, self._run, batch)
        except BaseException as exc:  # noqa: BLE001 - fanned back to every request of the batch
            if isinstance(exc, asyncio.CancelledError):
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(Unavailable(f"model '{self.name}' was unloaded"))
                raise
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(exc)
            return
        finally:
            self._running -= len(batch)
        self._record(len(batch), timing, sum(i.rows or 1 for i in batch), inline)
        for item, out in zip(batch, outputs):
            if not item.future.done():
                item.future.set_result((out, int((started - item.enqueued) * 1e9)))


def _average(average: float, took: float) -> float:
    """Moving average of execution times. One sample counts at most 4x the average: a thread the OS
    preempted mid-run (other processes on the machine) must not move a model off the loop alone;
    executions that really got slower still move it within a few runs."""
    if average == _INF:
        return took
    return 0.8 * average + 0.2 * min(took, 4 * average)


def _release(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _run_batch(run: RunBatch, batch: list[_Item]):
    """On a worker thread (or the loop): concatenate, run once, split. Returns (per-item outputs,
    timing ns)."""
    t0 = time.perf_counter_ns()
    inputs = _join(batch)
    t1 = time.perf_counter_ns()
    _running.batch = batch  # running_batch() describes it, only when asked
    try:
        outputs = run(inputs)
    finally:
        _running.batch = None
    t2 = time.perf_counter_ns()
    split = _split(batch, outputs)
    return split, (t1 - t0, t2 - t1, time.perf_counter_ns() - t2)


async def _await_batch(run: AsyncRunBatch, batch: list[_Item]):
    """`_run_batch` for a coroutine run function, given the batch's BatchInfo."""
    t0 = time.perf_counter_ns()
    inputs = _join(batch)
    t1 = time.perf_counter_ns()
    outputs = await run(inputs, _info(batch))
    t2 = time.perf_counter_ns()
    split = _split(batch, outputs)
    return split, (t1 - t0, t2 - t1, time.perf_counter_ns() - t2)


def _join(batch: list[_Item]) -> dict[str, np.ndarray]:
    if len(batch) == 1:
        return batch[0].inputs
    return {name: np.concatenate([i.inputs[name] for i in batch]) for name in batch[0].inputs}


def _split(batch: list[_Item], outputs: Mapping[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
    if len(batch) == 1:
        return [dict(outputs)]
    total = sum(i.rows for i in batch)
    for name, value in outputs.items():
        if np.ndim(value) == 0 or value.shape[0] != total:
            raise ServingError(f"model output '{name}' has shape {np.shape(value)}, not one row per "
                               f"batched input row ({total}); disable batching for this model")
    split, start = [], 0
    for item in batch:  # views, one slice per output and request
        end = start + item.rows
        split.append({name: value[start:end] for name, value in outputs.items()})
        start = end
    return split
