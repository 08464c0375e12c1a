"""A stand-in for `pynvml` (nvidia-ml-py), for testing the GPU sampling on machines without a GPU.

It implements exactly the NVML calls `loadtests.sampling.sampler.GpuProbe` makes, with pynvml's names,
units and error behaviour:

    nvmlInit / nvmlShutdown / nvmlDeviceGetCount / nvmlDeviceGetHandleByIndex
    nvmlDeviceGetName                    -> str
    nvmlDeviceGetMemoryInfo(h)           -> .total / .used / .free, bytes
    nvmlDeviceGetUtilizationRates(h)     -> .gpu / .memory, percent
    nvmlDeviceGetPowerUsage(h)           -> milliwatts
    nvmlDeviceGetProcessUtilization(h, lastSeenTimeStamp_us)
                                         -> [.pid, .timeStamp (us), .smUtil, .memUtil, ...] newer than
                                            the time stamp, or NVMLError(NVML_ERROR_NOT_FOUND) if none
    nvmlDeviceGetComputeRunningProcesses(h) -> [.pid, .usedGpuMemory (bytes)]
    NVMLError (.value = error code), NVML_ERROR_NOT_SUPPORTED, NVML_ERROR_NOT_FOUND, ...

Usage:

    nvml = FakeNvml([FakeGpu("Fake H100", memory_total=80 * 2**30, util=lambda t: 40 + 10 * (t % 2))])
    nvml.devices[0].processes[1234] = FakeProcess(sm_util=35, used_memory=2 * 2**30)
    GpuProbe(nvml)                       # sees one GPU with a 1234 process using it
    GpuProbe(FakeNvml(init_error=NVML_ERROR_DRIVER_NOT_LOADED))   # a machine without a driver

`util`, `memory_used` and `power_mw` are numbers or functions of the time since nvmlInit.
Setting `per_process_supported=False` on a device makes per-process utilisation raise
NOT_SUPPORTED, as on drivers and GPUs that do not report it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace

NVML_SUCCESS = 0
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12

_NAMES = {
    NVML_ERROR_UNINITIALIZED: "Uninitialized", NVML_ERROR_INVALID_ARGUMENT: "Invalid Argument",
    NVML_ERROR_NOT_SUPPORTED: "Not Supported", NVML_ERROR_NOT_FOUND: "Not Found",
    NVML_ERROR_DRIVER_NOT_LOADED: "Driver Not Loaded",
    NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
}


class NVMLError(Exception):
    def __init__(self, value: int):
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return _NAMES.get(self.value, f"NVML error {self.value}")


Number = float | Callable[[float], float]


@dataclass
class FakeProcess:
    sm_util: float = 0.0  # percent
    used_memory: int = 0  # bytes


@dataclass
class FakeGpu:
    name: str = "Fake GPU"
    memory_total: int = 16 * 2**30
    util: Number = 0.0
    memory_used: Number = 0.0
    power_mw: Number = 50_000.0
    per_process_supported: bool = True
    processes: dict[int, FakeProcess] = field(default_factory=dict)


class FakeNvml:
    """An object with pynvml's interface over the given fake devices."""

    NVMLError = NVMLError
    NVML_ERROR_NOT_SUPPORTED = NVML_ERROR_NOT_SUPPORTED
    NVML_ERROR_NOT_FOUND = NVML_ERROR_NOT_FOUND
    NVML_ERROR_DRIVER_NOT_LOADED = NVML_ERROR_DRIVER_NOT_LOADED
    NVML_ERROR_LIBRARY_NOT_FOUND = NVML_ERROR_LIBRARY_NOT_FOUND

    def __init__(self, devices: list[FakeGpu] | None = None, *, init_error: int | None = None):
        self.devices = list(devices or [])
        self.init_error = init_error
        self.initialised = 0  # nvmlInit calls not yet matched by nvmlShutdown
        self._t0 = time.monotonic()

    # -- helpers
    def _value(self, v: Number) -> float:
        return float(v(time.monotonic() - self._t0) if callable(v) else v)

    def _device(self, handle) -> FakeGpu:
        if not self.initialised:
            raise NVMLError(NVML_ERROR_UNINITIALIZED)
        if not isinstance(handle, int) or not 0 <= handle < len(self.devices):
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        return self.devices[handle]

    # -- pynvml's functions
    def nvmlInit(self) -> None:
        if self.init_error is not None:
            raise NVMLError(self.init_error)
        self.initialised += 1

    def nvmlShutdown(self) -> None:
        if not self.initialised:
            raise NVMLError(NVML_ERROR_UNINITIALIZED)
        self.initialised -= 1

    def nvmlDeviceGetCount(self) -> int:
        if not self.initialised:
            raise NVMLError(NVML_ERROR_UNINITIALIZED)
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        self._device(index)
        return index

    def nvmlDeviceGetName(self, handle) -> str:
        return self._device(handle).name

    def nvmlDeviceGetMemoryInfo(self, handle):
        d = self._device(handle)
        used = int(self._value(d.memory_used))
        return SimpleNamespace(total=d.memory_total, used=used, free=d.memory_total - used)

    def nvmlDeviceGetUtilizationRates(self, handle):
        d = self._device(handle)
        return SimpleNamespace(gpu=int(self._value(d.util)), memory=0)

    def nvmlDeviceGetPowerUsage(self, handle) -> int:
        return int(self._value(self._device(handle).power_mw))

    def nvmlDeviceGetProcessUtilization(self, handle, timeStamp: int):  # noqa: N803 - pynvml's name
        d = self._device(handle)
        if not d.per_process_supported:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        now = int(time.time() * 1e6)
        if now <= timeStamp or not d.processes:
            raise NVMLError(NVML_ERROR_NOT_FOUND)
        return [SimpleNamespace(pid=pid, timeStamp=now, smUtil=int(p.sm_util), memUtil=0, encUtil=0, decUtil=0)
                for pid, p in d.processes.items()]

    def nvmlDeviceGetComputeRunningProcesses(self, handle):
        d = self._device(handle)
        return [SimpleNamespace(pid=pid, usedGpuMemory=p.used_memory) for pid, p in d.processes.items()]
