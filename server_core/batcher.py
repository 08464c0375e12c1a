"""Dynamic batching: a bounded queue, one future per request, batches formed on max size or max
delay (time.monotonic), run on worker threads, results and errors fanned back to each request."""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from .errors import DeadlineExceeded, ResourceExhausted, ServingError, Unavailable
from .stats import ModelStats

RunBatch = Callable[[dict[str, np.ndarray]], Mapping[str, np.ndarray]]


@dataclass(frozen=True)
class BatchingConfig:
    max_batch_size: int = 1  # rows per execution; <= 1 disables batching
    max_delay_s: float = 0.0  # how long the first request of a batch waits for company
    max_queue: int = 256  # requests waiting; more -> RESOURCE_EXHAUSTED
    workers: int = 1  # executions that may run at once
    # Executions whose recent average is below this run on the event loop itself: for tiny models a
    # hop to a worker thread costs more than the model. 0 always uses the worker threads.
    inline_below_s: float = 0.0003

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
    """Inside a run function: the batch being run (for models that call another server and must pass
    the callers' deadline and requested outputs on). None outside a run."""
    return getattr(_running, "batch", None)


def _batch_key(inputs: Mapping[str, np.ndarray]):
    """Requests batch together only when every input agrees in name, dtype and trailing dims."""
    return tuple((name, a.dtype.str, a.shape[1:]) for name, a in inputs.items())


def _rows(inputs: Mapping[str, np.ndarray]) -> int | None:
    firsts = {a.shape[0] if a.ndim else None for a in inputs.values()}
    return firsts.pop() if len(firsts) == 1 else None


class Batcher:
    """Runs `run_batch` over batches of requests. `await submit(inputs, deadline)` -> outputs."""

    def __init__(self, name: str, run_batch: RunBatch, config: BatchingConfig, stats: ModelStats):
        self.name = name
        self._run = run_batch
        self.config = config
        self._stats = stats
        self._queue: collections.deque[_Item] = collections.deque()
        self._arrived = asyncio.Event()
        self._workers: list[asyncio.Task] = []
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._closed = True
        self._avg_exec_s = float("inf")  # moving average of execution time, for inline_below_s
        self._outstanding = 0  # submitted and not yet answered
        self._running = 0  # requests inside executing batches
        self._last_batch = 0  # requests in the batch formed last

    def start(self) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(self.config.workers, thread_name_prefix=f"run-{self.name}")
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
        if self._quiet_and_fast():
            return self._run_now(_Item(inputs, rows, None, None, deadline, context))
        key = _batch_key(inputs) if rows is not None else None
        loop = asyncio.get_running_loop()
        item = _Item(inputs, rows, key, loop.create_future(), deadline, context)
        self._outstanding += 1
        self._queue.append(item)
        self._arrived.set()
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
        """No batching, nothing queued, running or in flight, and the model runs inline: the worker
        would run this request alone at once, so run it here and save the hand-offs between tasks.
        (With batching on, requests always go through the queue so that concurrent ones can meet.)"""
        return (self.config.max_batch_size <= 1 and not self._queue and not self._outstanding
                and not self._running and self._avg_exec_s < self.config.inline_below_s)

    def _run_now(self, item: _Item):
        outputs, timing = _run_batch(self._run, [item])
        self._record(1, timing, item.rows or 1)
        return outputs[0], 0

    def _record(self, requests: int, timing, rows: int) -> None:
        took = sum(timing) / 1e9
        self._avg_exec_s = took if self._avg_exec_s == float("inf") else 0.8 * self._avg_exec_s + 0.2 * took
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
        for item in list(self._queue):
            if item.future.done():
                self._queue.remove(item)
                continue
            if key is None or (item.key == key and item.rows <= room):
                self._queue.remove(item)
                return item
        return None

    async def _next(self) -> _Item:
        while True:
            item = self._take()
            if item is not None:
                return item
            self._arrived.clear()
            await self._arrived.wait()

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        cfg = self.config
        while True:
            first = await self._next()
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
                    if left <= 0 or (self._last_batch <= 1 and self._outstanding <= len(batch) + self._running):
                        break  # out of time, or a quiet model: nobody else in flight and the last batch
                        # held one request, so waiting would only add latency
                    self._arrived.clear()
                    try:
                        await asyncio.wait_for(self._arrived.wait(), left)
                    except (asyncio.TimeoutError, TimeoutError):
                        pass
            batch = [i for i in batch if not i.future.done()]
            self._last_batch = len(batch)
            if batch:
                await self._execute(loop, batch)

    async def _execute(self, loop, batch: list[_Item]) -> None:
        started = time.monotonic()
        self._running += len(batch)
        try:
            if self._avg_exec_s < self.config.inline_below_s:
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
        self._record(len(batch), timing, sum(i.rows or 1 for i in batch))
        for item, out in zip(batch, outputs):
            if not item.future.done():
                item.future.set_result((out, int((started - item.enqueued) * 1e9)))


def _run_batch(run: RunBatch, batch: list[_Item]):
    """On a worker thread: concatenate, run once, split. Returns (per-item outputs, timing ns)."""
    t0 = time.perf_counter_ns()
    if len(batch) == 1:
        inputs = batch[0].inputs
    else:
        inputs = {name: np.concatenate([i.inputs[name] for i in batch]) for name in batch[0].inputs}
    t1 = time.perf_counter_ns()
    deadlines = [i.deadline for i in batch]
    _running.batch = BatchInfo(None if None in deadlines else max(deadlines), tuple(i.context for i in batch))
    try:
        outputs = run(inputs)
    finally:
        _running.batch = None
    t2 = time.perf_counter_ns()
    if len(batch) == 1:
        split = [dict(outputs)]
    else:
        total = sum(i.rows for i in batch)
        for name, value in outputs.items():
            if np.ndim(value) == 0 or value.shape[0] != total:
                raise ServingError(f"model output '{name}' has shape {np.shape(value)}, not one row per "
                                   f"batched input row ({total}); disable batching for this model")
        bounds = np.cumsum([i.rows for i in batch])[:-1]
        parts = {name: np.split(value, bounds) for name, value in outputs.items()}
        split = [{name: parts[name][k] for name in outputs} for k in range(len(batch))]
    t3 = time.perf_counter_ns()
    return split, (t1 - t0, t2 - t1, t3 - t2)
