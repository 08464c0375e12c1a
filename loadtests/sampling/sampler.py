"""Resources used while a load test runs, sampled on a background thread.

- Per service process, with its children (a TF Serving binary, worker processes): CPU % (psutil's
  convention: 100 % = one core busy, so up to 100 x cores) and RSS (summed; pages shared between
  the processes are counted once per process).
- Per GPU via NVML (nvidia-ml-py): utilisation %, memory used/total, power, and the service's own
  share where the driver reports it (per-process SM utilisation and GPU memory).

Without a GPU (no driver, no NVML, no device) `gpu` says so in words instead of holding zeros.
`nvml` may be any object with pynvml's functions: tests pass `tests.loadtests.fake_nvml.FakeNvml`.
"""

from __future__ import annotations

import importlib
import threading
import time

import psutil

DEFAULT_INTERVAL_S = 0.5
MB = 1024 * 1024


class ProcessProbe:
    """CPU % and RSS of a process and all its descendants."""

    def __init__(self, pid: int):
        try:
            self.root = psutil.Process(pid)
            self.info = {"pid": pid, "name": self.root.name(), "cmdline": " ".join(self.root.cmdline())[:300]}
        except psutil.NoSuchProcess:
            raise ValueError(f"no process with pid {pid}") from None
        except psutil.AccessDenied:
            raise ValueError(f"process {pid} cannot be inspected (permission denied)") from None
        self._procs: dict[int, psutil.Process] = {}
        self.sample()  # the first cpu_percent() of a process only sets its baseline

    def alive(self) -> bool:
        return self.root.is_running() and self.root.status() != psutil.STATUS_ZOMBIE

    def pids(self) -> set[int]:
        return set(self._procs)

    def sample(self) -> tuple[float, float] | None:
        """(cpu %, rss MB) summed over the process tree; None once the process is gone."""
        try:
            if not self.alive():
                return None
            current = [self.root, *self.root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return None
        cpu = rss = 0.0
        seen = {}
        for proc in current:
            known = self._procs.get(proc.pid, proc)
            try:
                value = known.cpu_percent(None)
                rss += known.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            if proc.pid in self._procs:
                cpu += value  # a new process's first reading is only its baseline
            seen[proc.pid] = known
        self._procs = seen
        return cpu, rss / MB


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class GpuProbe:
    """Every GPU NVML sees; `available` False with `reason` in words when there is none."""

    def __init__(self, nvml=None):
        self.available, self.reason, self.devices = False, "", []
        self.process_note: str | None = None
        self._per_process = True
        if nvml is None:
            try:
                nvml = importlib.import_module("pynvml")
            except ImportError:
                self.reason = "no GPU: nvidia-ml-py (pynvml) is not installed"
                return
        self.nvml = nvml
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as e:
            self.reason = f"no GPU: NVML is not available on this machine ({_text(e)})"
            return
        try:
            count = nvml.nvmlDeviceGetCount()
            for i in range(count):
                handle = nvml.nvmlDeviceGetHandleByIndex(i)
                self.devices.append({"index": i, "handle": handle, "name": _text(nvml.nvmlDeviceGetName(handle)),
                                     "memory_total_mb": nvml.nvmlDeviceGetMemoryInfo(handle).total / MB,
                                     "last_ts": int((time.time() - 1.0) * 1e6)})
        except nvml.NVMLError as e:
            self.reason = f"no GPU: NVML could not list devices ({_text(e)})"
            self.devices = []
        if not self.devices:
            self.reason = self.reason or "no GPU: NVML reports no device"
            nvml.nvmlShutdown()
            return
        self.available = True

    def _process_util(self, device: dict, pids: set[int]) -> float | None:
        nvml = self.nvml
        if not self._per_process or not pids:
            return None
        try:
            samples = nvml.nvmlDeviceGetProcessUtilization(device["handle"], device["last_ts"])
        except nvml.NVMLError as e:
            if getattr(e, "value", None) == nvml.NVML_ERROR_NOT_FOUND:
                return 0.0  # no process used the GPU since the last sample
            self._per_process = False
            self.process_note = f"per-process GPU utilisation is not reported by this driver ({_text(e)})"
            return None
        per_pid: dict[int, list[int]] = {}
        for s in samples:
            device["last_ts"] = max(device["last_ts"], int(s.timeStamp))
            if s.pid in pids:
                per_pid.setdefault(s.pid, []).append(int(s.smUtil))
        return float(min(100.0, sum(sum(v) / len(v) for v in per_pid.values())))

    def _process_memory(self, device: dict, pids: set[int]) -> float | None:
        if not pids:
            return None
        try:
            procs = self.nvml.nvmlDeviceGetComputeRunningProcesses(device["handle"])
        except self.nvml.NVMLError:
            return None
        return sum((p.usedGpuMemory or 0) for p in procs if p.pid in pids) / MB

    def sample(self, pids: set[int]) -> list[dict]:
        nvml, out = self.nvml, []
        for device in self.devices:
            handle = device["handle"]
            util: float | None
            used: float | None
            power: float | None
            try:
                util = float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
                used = nvml.nvmlDeviceGetMemoryInfo(handle).used / MB
            except nvml.NVMLError:
                util = used = None
            try:
                power = nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0  # mW -> W
            except nvml.NVMLError:
                power = None
            out.append({"util_percent": util, "memory_used_mb": used, "power_w": power,
                        "process_util_percent": self._process_util(device, pids),
                        "process_memory_mb": self._process_memory(device, pids)})
        return out

    def close(self) -> None:
        if self.available:
            self.available = False
            try:
                self.nvml.nvmlShutdown()
            except self.nvml.NVMLError:
                pass


class ResourceSampler:
    """`with ResourceSampler(pid) as s: ...` then `s.result()`: series sampled every `interval` s.

    `pid` None samples the GPUs only (the report then says no process was given)."""

    def __init__(self, pid: int | None = None, *, interval: float = DEFAULT_INTERVAL_S, nvml=None,
                 gpu: bool = True):
        if not interval > 0:
            raise ValueError(f"sampling interval must be positive, got {interval}")
        self.interval = interval
        self.process = ProcessProbe(pid) if pid is not None else None
        self.gpu = GpuProbe(nvml) if gpu else None
        self.t: list[float] = []
        self.cpu: list[float | None] = []
        self.rss: list[float | None] = []
        self.gpu_series: list[list[dict]] = []
        self.process_gone_at: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tandem-sampler", daemon=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self) -> ResourceSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
        if self.gpu is not None:
            self.gpu.close()

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.sample_once()
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def sample_once(self) -> None:
        now = time.time()
        reading = self.process.sample() if self.process else None
        if self.process and reading is None and self.process_gone_at is None:
            self.process_gone_at = now
        cpu, rss = reading if reading else (None, None)
        pids = self.process.pids() if self.process else set()
        gpus = self.gpu.sample(pids) if self.gpu is not None and self.gpu.available else []
        self.t.append(now)
        self.cpu.append(cpu)
        self.rss.append(rss)
        self.gpu_series.append(gpus)

    def result(self) -> dict:
        """Raw series (wall-clock `t`); `resources.summarize` turns them into the report's form."""
        gpu: dict
        if self.gpu is None:
            gpu = {"available": False, "reason": "no GPU: GPU sampling was switched off"}
        elif not self.gpu.devices:
            gpu = {"available": False, "reason": self.gpu.reason}
        else:
            devices = []
            for i, d in enumerate(self.gpu.devices):
                rows = [s[i] for s in self.gpu_series if len(s) > i]
                devices.append({"index": d["index"], "name": d["name"],
                                "memory_total_mb": round(d["memory_total_mb"], 1),
                                **{k: [r[k] for r in rows] for k in
                                   ("util_percent", "memory_used_mb", "power_w", "process_util_percent",
                                    "process_memory_mb")}})
            gpu = {"available": True, "devices": devices, "process_note": self.gpu.process_note}
        return {"interval_s": self.interval, "cpu_count": psutil.cpu_count(),
                "process": self.process.info if self.process else None,
                "process_gone_at": self.process_gone_at,
                "t": self.t, "cpu_percent": self.cpu, "rss_mb": self.rss, "gpu": gpu}
