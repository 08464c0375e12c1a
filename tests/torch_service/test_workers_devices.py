"""Workers (minWorkers really run at once, one handler each, one shared model per device), torch's
thread budget, device placement (round-robin, pinned, CPU fallback) and inference_mode."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os

import numpy as np
import pytest
import torch

from client import AsyncInferenceClient
from torch_service.archive import build_archive
from torch_service.devices import DevicePlanner, ThreadBudget, cgroup_cpu_limit, usable_cores
from torch_service.loader import TorchLoader
from torch_service.store import ModelStore

from . import models
from .conftest import mlp_config

# Both requests must be inside the model at the same time for either to finish: with one worker
# the barrier breaks after its timeout and the requests fail.
MEETING_HANDLER = '''
import threading

import torch

from torch_service.handler import BaseHandler

BARRIER = threading.Barrier(2, timeout=10)


class Meeting(BaseHandler):
    def inference(self, data, *args, **kwargs):
        BARRIER.wait()
        return super().inference(data, *args, **kwargs)

    def postprocess(self, data):
        rows = data.shape[0]
        return {"y": data, "worker": torch.full((rows,), self.context.worker_index, dtype=torch.int64),
                "inference_mode": torch.full((rows,), torch.is_inference_mode_enabled())}
'''


def test_min_workers_run_concurrently_each_with_its_own_handler(tmp_path, artifacts, serve):
    store = tmp_path / "store"
    config = mlp_config(minWorkers=2, maxWorkers=2)
    config["tensors"]["outputs"] += [{"name": "worker", "datatype": "INT64", "shape": [-1]},
                                     {"name": "inference_mode", "datatype": "BOOL", "shape": [-1]}]
    build_archive(store / "m.mar", model_name="m", version="1", serialized_file=artifacts.mlp_script,
                  handler=models.write_text(tmp_path / "meeting.py", MEETING_HANDLER), config=config)
    srv, _ = serve(store)

    async def two():
        async with AsyncInferenceClient(srv.address, timeout=20) as c:
            return await asyncio.gather(*(c.infer("m", {"x": np.ones((1, 8), np.float32)}) for _ in range(2)))

    results = asyncio.run(two())
    assert sorted(int(r["worker"][0]) for r in results) == [0, 1]
    assert all(bool(r["inference_mode"][0]) for r in results)
    model = srv.backend.resolve("m")
    handlers = [h for h, _ in model.pool.workers]
    assert len(handlers) == 2 and handlers[0] is not handlers[1]
    assert handlers[0].model is handlers[1].model, "workers on one device should share the loaded model"


THREADS_HANDLER = """
import torch

from torch_service.handler import BaseHandler


class Threads(BaseHandler):
    def postprocess(self, data):
        return {"y": data, "threads": torch.full((data.shape[0],), torch.get_num_threads(), dtype=torch.int64)}
"""


def test_thread_budget_divides_the_cores_and_reaches_every_worker_thread(tmp_path, artifacts):
    """OpenMP thread counts are per OS thread: the count must be what the thread running the model
    sees, also on a fresh worker thread, and follow the budget as models load and unload."""
    budget = ThreadBudget(cores=5)  # one core stays with the frontend: 4 for the workers
    store = tmp_path / "store"
    config = mlp_config(minWorkers=2)
    config["tensors"]["outputs"].append({"name": "threads", "datatype": "INT64", "shape": [-1]})
    build_archive(store / "two.mar", model_name="two", version="1", serialized_file=artifacts.mlp_script,
                  handler=models.write_text(tmp_path / "threads.py", THREADS_HANDLER), config=config)
    build_archive(store / "four.mar", model_name="four", version="1", serialized_file=artifacts.mlp_script,
                  config=mlp_config(minWorkers=4))
    loader = TorchLoader(ModelStore(store), tmp_path / "work", threads=budget, devices=DevicePlanner(cuda_count=0))
    [two] = loader.load("two")
    worker = concurrent.futures.ThreadPoolExecutor(1)  # one thread, reused: it must follow the budget

    def seen_by(pool):
        return int(pool.submit(two.pool.run_batch, {"x": np.ones((1, 8), np.float32)}).result()["threads"][0])

    try:
        assert budget.threads == 2 and seen_by(worker) == 2
        [four] = loader.load("four")
        assert budget.threads == 1 and seen_by(worker) == 1
        with concurrent.futures.ThreadPoolExecutor(1) as fresh:
            assert seen_by(fresh) == 1
        four.release()
        assert budget.threads == 2 and seen_by(worker) == 2
    finally:
        worker.shutdown()
        two.release()
    assert budget.threads == 4
    assert ThreadBudget(fixed=3, cores=4).threads_for(4) == 3
    assert ThreadBudget(cores=2).threads_for(1) == 2 and ThreadBudget(cores=1).threads_for(1) == 1
    assert ThreadBudget(cores=8).threads_for(1) == 7 and ThreadBudget(cores=4).threads_for(3) == 1


def test_usable_cores_respect_a_container_cpu_quota(tmp_path):
    v2, v1 = tmp_path / "v2", tmp_path / "v1"
    v2.mkdir()
    (v2 / "cpu.max").write_text("150000 100000\n")
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_cpu_limit(v2) == 1.5 and cgroup_cpu_limit(v1) is None
    assert usable_cores(v2) == min(2, len(os.sched_getaffinity(0)))
    assert usable_cores(tmp_path / "absent") == len(os.sched_getaffinity(0))
    (v2 / "cpu.max").write_text("max 100000\n")
    assert cgroup_cpu_limit(v2) is None


def test_gpu_placement_round_robin_pinned_and_refused():
    planner = DevicePlanner(cuda_count=2)
    assert planner.place("a", "gpu", [], 3) == ["cuda:0", "cuda:1", "cuda:0"]
    assert planner.place("b", "gpu", [], 1) == ["cuda:1"]  # round-robin continues across models
    assert planner.place("c", "gpu", [], 2) == ["cuda:0", "cuda:1"]
    assert planner.place("d", "gpu", [1], 2) == ["cuda:1", "cuda:1"]
    assert planner.place("e", "cpu", [1], 2) == ["cpu", "cpu"]
    with pytest.raises(ValueError, match=r"deviceIds \[3\] do not exist: this machine has 2 GPU"):
        planner.place("f", "gpu", [0, 3], 1)
    assert DevicePlanner().cuda_count == (torch.cuda.device_count() if torch.cuda.is_available() else 0)


def test_gpu_model_without_cuda_falls_back_to_cpu_with_a_warning(tmp_path, artifacts, serve, caplog):
    store = tmp_path / "store"
    build_archive(store / "g.mar", model_name="g", version="1", serialized_file=artifacts.mlp_script,
                  config=mlp_config(deviceType="gpu", deviceIds=[0], minWorkers=2))
    with caplog.at_level(logging.WARNING, "tandem.torch.devices"):
        srv, c = serve(store, cuda_count=0)
    assert "asks for deviceType gpu but CUDA is not available here: it runs on cpu" in caplog.text
    assert c.infer("g", {"x": np.ones((2, 8), np.float32)})["y"].shape == (2, 3)
    contexts = [ctx for _, ctx in srv.backend.resolve("g").pool.workers]
    assert [str(ctx.device) for ctx in contexts] == ["cpu", "cpu"]
    assert contexts[0].system_properties["gpu_id"] is None


def test_gpu_placement_reaches_the_handler_context(tmp_path, artifacts):
    """With GPUs present each worker's context carries its cuda device and TorchServe's gpu_id (the
    model load itself needs real CUDA, so this stops at placement: a handler that only records)."""
    store = tmp_path / "store"
    recorder = models.write_text(tmp_path / "rec.py", "from torch_service.handler import BaseHandler\n"
                                 "class Rec(BaseHandler):\n    def initialize(self, context):\n"
                                 "        self.context = context\n")
    build_archive(store / "r.mar", model_name="r", version="1", serialized_file=artifacts.mlp_script,
                  handler=recorder, config=mlp_config(deviceType="gpu", minWorkers=3))
    loader = TorchLoader(ModelStore(store), tmp_path / "work", devices=DevicePlanner(cuda_count=2))
    [model] = loader.load("r")
    try:
        contexts = [ctx for _, ctx in model.pool.workers]
        assert [str(c.device) for c in contexts] == ["cuda:0", "cuda:1", "cuda:0"]
        assert [c.system_properties["gpu_id"] for c in contexts] == [0, 1, 0]
    finally:
        model.release()


def test_startup_turns_tf32_off():
    import torch

    from torch_service.devices import disable_tf32

    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    disable_tf32(torch)
    assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
    assert torch.get_float32_matmul_precision() == "highest"
