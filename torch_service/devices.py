"""Where workers run: devices (cpu, cuda:N round-robin or pinned) and torch's CPU thread budget."""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger("tandem.torch.devices")


CGROUP = Path("/sys/fs/cgroup")


def cgroup_cpu_limit(root: Path = CGROUP) -> float | None:
    """CPUs allowed by the container's CFS quota (cgroup v2 cpu.max or v1), None when unlimited."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return None if quota_us <= 0 else quota_us / period_us
    except (OSError, ValueError, ZeroDivisionError):
        return None


def usable_cores(cgroup: Path = CGROUP) -> int:
    """Cores this process may use: its CPU affinity, capped by a container CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    limit = cgroup_cpu_limit(cgroup)
    return max(1, min(cores, math.ceil(limit))) if limit else cores


def cuda_device_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


class DevicePlanner:
    """Assigns each worker of a model its device. `deviceType: gpu` places workers round-robin over
    every GPU (continuing across models, so models spread out) or over the model's `deviceIds`;
    without CUDA a gpu model falls back to cpu with a warning. `cuda_count` is for tests."""

    def __init__(self, cuda_count: int | None = None):
        self._count = cuda_count
        self._next = 0
        self._lock = threading.Lock()

    @property
    def cuda_count(self) -> int:
        if self._count is None:
            self._count = cuda_device_count()
        return self._count

    def place(self, model: str, device_type: str, device_ids: Sequence[int], workers: int) -> list[str]:
        if device_type != "gpu":
            return ["cpu"] * workers
        count = self.cuda_count
        if count == 0:
            log.warning("model %s asks for deviceType gpu but CUDA is not available here: it runs on cpu", model)
            return ["cpu"] * workers
        if device_ids:
            missing = [d for d in device_ids if d >= count]
            if missing:
                raise ValueError(f"deviceIds {missing} do not exist: this machine has {count} GPU(s), "
                                 f"ids 0..{count - 1}")
            return [f"cuda:{device_ids[i % len(device_ids)]}" for i in range(workers)]
        with self._lock:
            start = self._next
            self._next = (start + workers) % count
        return [f"cuda:{(start + i) % count}" for i in range(workers)]


SMALL_MACHINE_CORES = 4  # up to this many cores, the frontend gets no core of its own


class ThreadBudget:
    """Keeps torch's intra-op thread count at compute cores // (most CPU workers of any loaded model),
    where compute cores are all of them up to 4 and one fewer past that (one stays with the
    gRPC/event-loop frontend), so one model's workers running at once do not oversubscribe the rest.
    On small machines every core computes: on 2 quiet cores ResNet-18 served 49 images/s with 2
    threads and 30 with 1, the frontend's share being small next to the model's. (OpenMP threads
    that lose their core to another thread stall each other at every barrier: oversubscribed, a CNN
    ran 3x slower here; `passive_openmp` keeps that from getting worse than one thread.) `fixed`
    pins the count.

    OpenMP and MKL keep their thread count per calling OS thread, and torch.set_num_threads only
    sets the caller's: every thread that runs a model calls `enter_worker_thread()` first (a
    thread-local check; it re-applies the count when the budget changed). Without it, a worker
    thread ran MKL/oneDNN with one OpenMP thread per core: 10-100x slower small calls under load."""

    def __init__(self, fixed: int | None = None, cores: int | None = None):
        self.cores = cores or usable_cores()
        self.fixed = fixed if fixed and fixed > 0 else None
        self._workers: dict[str, int] = {}
        self._lock = threading.Lock()
        self._threads = 0
        self._generation = 0
        self._local = threading.local()

    def threads_for(self, workers: int) -> int:
        compute = self.cores if self.cores <= SMALL_MACHINE_CORES else self.cores - 1
        return self.fixed or max(1, compute // max(1, workers))

    @property
    def threads(self) -> int:
        return self._threads

    def apply_startup(self) -> None:
        """Called once in main(), before any torch work: inter-op 1 (workers are our parallelism),
        and full FP32 precision on GPUs (TF32 off) so answers match tf_service's (docs/numerics.md)."""
        import torch

        disable_tf32(torch)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # already used in this process (tests): keep it
            pass
        with self._lock:
            self._apply()
        self.enter_worker_thread()

    def register(self, key: str, cpu_workers: int) -> None:
        with self._lock:
            if cpu_workers > 0:
                self._workers[key] = cpu_workers
            self._apply()

    def release(self, key: str) -> None:
        with self._lock:
            self._workers.pop(key, None)
            self._apply()

    def enter_worker_thread(self) -> None:
        """Apply the current thread count to the calling thread if it has not seen it yet."""
        if getattr(self._local, "generation", -1) != self._generation:
            import torch

            generation, threads = self._generation, self._threads
            torch.set_num_threads(threads)
            self._local.generation = generation

    def _apply(self) -> None:
        want = self.threads_for(max(self._workers.values(), default=1))
        if want != self._threads:
            self._threads = want
            self._generation += 1
            log.info("torch intra-op threads: %d (%d cores, up to %d workers per model)", want, self.cores,
                     max(self._workers.values(), default=1))


def passive_openmp(environ=os.environ) -> None:
    """Make OpenMP threads sleep at once when they run out of work (OMP_WAIT_POLICY=PASSIVE), unless
    the environment says otherwise. Must run before torch is imported: libgomp reads it when it loads.

    By default libgomp's threads spin after each parallel region. On a machine whose cores are
    shared (the gRPC frontend, a load generator, another service), a spinning thread takes the core
    its teammate needs, and every op's barrier then waits for the descheduled thread: the zoo's
    text-encoder (2 intra-op threads, 2 cores under load) took 3.3 to 36 ms per forward from one run
    to the next (2.4-3.2 ms passive, 2.0-2.9 ms with one thread), and torch_service swung between
    82 and 245 req/s on it (issue 14; torch_service/README.md has the numbers)."""
    environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def disable_tf32(torch) -> None:
    """TF32 matmuls/convolutions on Ampere+ GPUs round inputs to 10 mantissa bits: fast, but 15-27x
    outside the parity tolerances (docs/numerics.md). Tandem serves full FP32."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
