"""The shared dynamic batcher, driven directly on an event loop."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from server_core.batcher import PROBE_BELOW, PROBE_EVERY, Batcher, BatchingConfig, _average
from server_core.errors import DeadlineExceeded, ResourceExhausted, ServingError, Unavailable
from server_core.stats import ModelStats


class Recorder:
    """A model that doubles its input and records the batch sizes it really ran."""

    def __init__(self, gate: threading.Event | None = None, fail_on: float | None = None):
        self.batches: list[int] = []
        self.gate = gate
        self.fail_on = fail_on

    def __call__(self, inputs):
        if self.gate is not None:
            self.gate.wait(10)
        x = inputs["x"]
        self.batches.append(x.shape[0])
        if self.fail_on is not None and (x == self.fail_on).any():
            raise RuntimeError("boom")
        return {"y": x * 2}


def run(coro):
    return asyncio.run(coro)


def rows(n, width=4, value=1.0):
    return {"x": np.full((n, width), value, np.float32)}


async def started(model, **config):
    b = Batcher("m", model, BatchingConfig(**config), ModelStats("m", "1"))
    b.start()
    return b


def test_concurrent_requests_share_a_batch_and_get_their_own_rows_back():
    async def go():
        model = Recorder()
        b = await started(model, max_batch_size=8, max_delay_s=0.05, inline_below_s=0)
        results = await asyncio.gather(*(b.submit(rows(1, value=i)) for i in range(6)))
        await b.stop()
        return model, results

    model, results = run(go())
    for i, (out, queue_ns) in enumerate(results):
        np.testing.assert_array_equal(out["y"], np.full((1, 4), 2.0 * i))
        assert queue_ns >= 0
    assert sum(model.batches) == 6 and max(model.batches) > 1


def test_batches_respect_max_size_trailing_dims_and_oversized_requests():
    async def go():
        model = Recorder(gate=threading.Event())
        b = await started(model, max_batch_size=4, max_delay_s=0.05, inline_below_s=0)
        first = asyncio.ensure_future(b.submit(rows(1)))  # occupies the worker until the gate opens
        await asyncio.sleep(0)
        calls = [b.submit(rows(1)) for _ in range(5)] + [b.submit(rows(1, width=3)), b.submit(rows(9))]
        tasks = [asyncio.ensure_future(c) for c in calls]
        await asyncio.sleep(0.01)
        model.gate.set()
        outs = await asyncio.gather(first, *tasks)
        await b.stop()
        return model, outs

    model, outs = run(go())
    assert outs[-1][0]["y"].shape == (9, 4)  # bigger than max_batch_size: ran alone, whole
    assert outs[-2][0]["y"].shape == (1, 3)
    assert 9 in model.batches
    assert all(size <= 4 for size in model.batches if size != 9)
    assert sum(model.batches) == 1 + 5 + 1 + 9


def test_cancelled_and_expired_requests_leave_the_queue_without_running():
    async def go():
        model = Recorder(gate=threading.Event())
        b = await started(model, max_batch_size=1, inline_below_s=0)
        blocker = asyncio.ensure_future(b.submit(rows(1, value=1)))
        await asyncio.sleep(0.01)
        cancelled = asyncio.ensure_future(b.submit(rows(1, value=2)))
        expired = asyncio.ensure_future(b.submit(rows(1, value=3), deadline=time.monotonic() + 0.02))
        await asyncio.sleep(0.01)
        cancelled.cancel()
        with pytest.raises(DeadlineExceeded):
            await expired
        model.gate.set()
        await blocker
        ok = await b.submit(rows(1, value=4))
        await b.stop()
        return model, ok

    model, ok = run(go())
    np.testing.assert_array_equal(ok[0]["y"], np.full((1, 4), 8.0))
    assert model.batches == [1, 1]  # the blocker and the last request; the other two never ran


def test_a_failing_batch_fails_only_its_own_requests():
    async def go():
        b = await started(Recorder(fail_on=7.0), max_batch_size=1, inline_below_s=0)
        bad = await asyncio.gather(b.submit(rows(1, value=7)), return_exceptions=True)
        good = await b.submit(rows(1, value=1))
        await b.stop()
        return bad[0], good

    bad, good = run(go())
    assert isinstance(bad, RuntimeError)
    np.testing.assert_array_equal(good[0]["y"], np.full((1, 4), 2.0))


def test_full_queue_is_refused_and_stop_fails_what_waits():
    async def go():
        model = Recorder(gate=threading.Event())
        b = await started(model, max_batch_size=1, max_queue=2, inline_below_s=0)
        running = asyncio.ensure_future(b.submit(rows(1)))
        await asyncio.sleep(0.01)
        queued = [asyncio.ensure_future(b.submit(rows(1))) for _ in range(2)]
        await asyncio.sleep(0)
        with pytest.raises(ResourceExhausted, match="queue full"):
            await b.submit(rows(1))
        model.gate.set()
        await running
        stopping = asyncio.ensure_future(b.stop())
        results = await asyncio.gather(*queued, return_exceptions=True)
        await stopping
        with pytest.raises(Unavailable):
            await b.submit(rows(1))
        return results

    results = run(go())
    assert all(isinstance(r, (tuple, Unavailable)) for r in results)


def test_outputs_that_are_not_one_row_per_input_row_are_an_error():
    def summed(inputs):
        return {"y": inputs["x"].sum(keepdims=True)}

    async def go():
        b = await started(summed, max_batch_size=8, max_delay_s=0.05, inline_below_s=0)
        results = await asyncio.gather(*(b.submit(rows(1)) for _ in range(4)), return_exceptions=True)
        await b.stop()
        return results

    results = run(go())
    batched = [r for r in results if isinstance(r, ServingError)]
    assert batched and "disable batching" in batched[0].message


def test_tiny_models_run_inline_after_their_first_execution():
    calls = []

    def model(inputs):
        calls.append(threading.current_thread().name)
        return {"y": inputs["x"]}

    async def go():
        b = await started(model, max_batch_size=1)
        for _ in range(3):
            await b.submit(rows(1))
        await b.stop()

    run(go())
    assert calls[0].startswith("run-m") and calls[-1] == threading.main_thread().name


def test_worker_thread_executions_are_tried_on_the_loop_again_one_in_probe_every():
    # Executions on worker threads are slowed by the GIL the loop holds: when they average within
    # PROBE_BELOW times the bound, one in PROBE_EVERY runs on the loop to measure it there.
    b = Batcher("m", Recorder(), BatchingConfig(inline_below_s=0.001), ModelStats("m", "1"))
    b._pool_s = 0.002  # noqa: SLF001 - the measured state, set directly: no timing in the test
    decisions = [b._inline_next() for _ in range(3 * PROBE_EVERY)]  # noqa: SLF001
    assert 2 <= sum(decisions) <= 3 and not all(decisions[:PROBE_EVERY - 1])
    b._pool_s = 0.001 * PROBE_BELOW * 2  # noqa: SLF001 - really slow: never tried on the loop
    assert not any(b._inline_next() for _ in range(3 * PROBE_EVERY))  # noqa: SLF001
    never = Batcher("m", Recorder(), BatchingConfig(inline_below_s=0), ModelStats("m", "1"))
    never._pool_s = never._inline_s = 0.0  # noqa: SLF001 - inline_below_s=0: worker threads, always
    assert not any(never._inline_next() for _ in range(3 * PROBE_EVERY))  # noqa: SLF001


def test_one_preempted_execution_does_not_move_a_model_off_the_loop():
    average = 0.0001
    once = _average(average, 0.05)  # the thread lost its core for 50 ms once
    assert once < 0.001
    for _ in range(8):  # executions that really got slower move it within a few runs
        average = _average(average, 0.05)
    assert average > 0.001


def test_a_lone_request_of_a_batching_model_queues_alone_and_concurrent_ones_meet():
    model = Recorder()

    async def go():
        b = await started(model, max_batch_size=8, max_delay_s=0.05, inline_below_s=1.0)
        for _ in range(4):  # the first executions measure the model (on a worker thread, then the loop)
            await b.submit(rows(1))
        lone = [await b.submit(rows(1)) for _ in range(3)]
        together = await asyncio.gather(*(b.submit(rows(1, value=i)) for i in range(6)))
        await b.stop()
        return lone, together

    lone, together = run(go())
    assert all(0 < queue_ns < 50_000_000 for _, queue_ns in lone)  # queued (batching), never waited out the delay
    assert model.batches[4:7] == [1, 1, 1] and max(model.batches[7:]) > 1
    for i, (out, _) in enumerate(together):
        np.testing.assert_array_equal(out["y"], np.full((1, 4), 2.0 * i))


class AsyncRecorder:
    """A model that waits on another server: a coroutine run, released by the test."""

    def __init__(self):
        self.batches: list[int] = []
        self.infos: list = []
        self.threads: set[int] = set()
        self.running = 0
        self.most = 0
        self.gate = asyncio.Event()
        self.arrived = asyncio.Event()

    async def __call__(self, inputs, batch):
        self.threads.add(threading.get_ident())
        self.running += 1
        self.most = max(self.most, self.running)
        self.arrived.set()
        try:
            await self.gate.wait()
        finally:
            self.running -= 1
        x = inputs["x"]
        self.batches.append(x.shape[0])
        self.infos.append(batch)
        return {"y": x * 2}


def test_a_coroutine_run_is_awaited_on_the_loop_and_given_its_batch():
    async def go():
        model = AsyncRecorder()
        model.gate.set()
        b = await started(model, max_batch_size=8, max_delay_s=0.0, workers=2)
        deadline = time.monotonic() + 60
        out, queue_ns = await b.submit(rows(1, value=3.0), deadline, context="ctx")
        await b.stop()
        return model, out, queue_ns, deadline

    model, out, queue_ns, deadline = run(go())
    np.testing.assert_array_equal(out["y"], np.full((1, 4), 6.0))
    assert model.threads == {threading.get_ident()}  # the loop's own thread: no worker thread
    [info] = model.infos
    assert info.deadline == deadline and info.contexts == ("ctx",)


def test_coroutine_runs_hold_at_most_workers_and_what_queues_meanwhile_coalesces():
    async def go():
        model = AsyncRecorder()
        b = await started(model, max_batch_size=8, max_delay_s=0.0, workers=2)
        first = []
        for i in range(2):  # one after the other: each worker runs one, held by the gate
            model.arrived.clear()
            first.append(asyncio.ensure_future(b.submit(rows(1, value=i))))
            await model.arrived.wait()
        later = [asyncio.ensure_future(b.submit(rows(1, value=10 + i))) for i in range(5)]
        for _ in range(3):
            await asyncio.sleep(0)  # let the requests queue: both workers are busy
        queued = b.queued()
        model.gate.set()
        results = await asyncio.gather(*first, *later)
        await b.stop()
        return model, queued, results

    model, queued, results = run(go())
    assert queued == 5  # nothing ran beyond the two workers while they were held
    assert model.most == 2
    assert sorted(model.batches) == [1, 1, 5]  # two alone, then the five that queued in one run
    for value, (out, _) in zip([0, 1, 10, 11, 12, 13, 14], results):
        np.testing.assert_array_equal(out["y"], np.full((1, 4), 2.0 * value))


def test_without_the_quiet_shortcut_a_request_arriving_a_moment_later_meets_the_first():
    """quiet_skips_delay=False: even at a quiet model the first request waits for company, so a
    request that arrives after it (not with it) still shares its batch."""
    async def go():
        model = Recorder()
        b = await started(model, max_batch_size=2, max_delay_s=60.0, inline_below_s=1.0, quiet_skips_delay=False)
        first = asyncio.ensure_future(b.submit(rows(1, value=1.0)))  # a fresh model: quiet
        for _ in range(5):
            await asyncio.sleep(0)  # the worker has taken `first` and waits for company
        waited = not first.done()
        second = asyncio.ensure_future(b.submit(rows(1, value=2.0)))
        answers = await asyncio.gather(first, second)  # the batch is full: it leaves at once
        await b.stop()
        return model, waited, answers

    model, waited, answers = run(go())
    assert waited and model.batches == [2]
    for value, (out, _) in zip((1.0, 2.0), answers):
        np.testing.assert_array_equal(out["y"], np.full((1, 4), 2 * value))
