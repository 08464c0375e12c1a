"""Where workers run: devices (cpu, cuda:N round-robin or pinned) and torch's CPU thread budget."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence

log = logging.getLogger("tandem.torch.devices")


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


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


class ThreadBudget:
    """Keeps torch's intra-op thread count at cores // (most CPU workers of any loaded model), so
    one model's workers running at once do not oversubscribe the cores. `fixed` pins the count."""

    def __init__(self, fixed: int | None = None, cores: int | None = None):
        self.cores = cores or usable_cores()
        self.fixed = fixed if fixed and fixed > 0 else None
        self._workers: dict[str, int] = {}
        self._lock = threading.Lock()

    def threads_for(self, workers: int) -> int:
        return self.fixed or max(1, self.cores // max(1, workers))

    def apply_startup(self) -> None:
        """Called once in main(), before any torch work: inter-op 1 (workers are our parallelism)."""
        import torch

        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # already used in this process (tests): keep it
            pass
        self._apply()

    def register(self, key: str, cpu_workers: int) -> None:
        with self._lock:
            if cpu_workers > 0:
                self._workers[key] = cpu_workers
            self._apply()

    def release(self, key: str) -> None:
        with self._lock:
            self._workers.pop(key, None)
            self._apply()

    def _apply(self) -> None:
        import torch

        want = self.threads_for(max(self._workers.values(), default=1))
        if torch.get_num_threads() != want:
            torch.set_num_threads(want)
            log.info("torch intra-op threads: %d (%d cores, up to %d workers per model)", want, self.cores,
                     max(self._workers.values(), default=1))
