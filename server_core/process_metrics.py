"""The server's own process gauges on its Prometheus registry, read at scrape time:

    tandem_process_cpu_percent         CPU used by this process since the last scrape (100 = one core)
    tandem_process_resident_bytes      resident memory (RSS)
    tandem_gpu_utilization_percent{gpu}   GPU busy time, per visible GPU  } only where NVML works
    tandem_gpu_memory_used_bytes{gpu}     GPU memory in use, per GPU       } (pynvml, an NVIDIA driver)

GPU gauges are absent (not zero) on machines without NVML, so a dashboard shows "no data", not 0 %.
"""

from __future__ import annotations

import logging
import weakref

import psutil
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger("tandem.metrics")


class ProcessCollector(Collector):
    def __init__(self, namespace: str = "tandem", process: psutil.Process | None = None, nvml=None):
        """`nvml`: the pynvml module, or None to try importing it (any failure = no GPU gauges)."""
        self._ns = namespace
        self._process = process or psutil.Process()
        self._process.cpu_percent(None)  # the first reading is the baseline
        self._nvml = nvml if nvml is not None else _nvml()

    def collect(self):
        ns = self._ns
        with self._process.oneshot():
            cpu = self._process.cpu_percent(None)
            rss = self._process.memory_info().rss
        yield GaugeMetricFamily(f"{ns}_process_cpu_percent", "CPU used by the server process since the last "
                                "scrape (100 = one core)", value=cpu)
        yield GaugeMetricFamily(f"{ns}_process_resident_bytes", "Resident memory of the server process", value=rss)
        if self._nvml is None:
            return
        util = GaugeMetricFamily(f"{ns}_gpu_utilization_percent", "GPU busy time (NVML)", labels=["gpu"])
        mem = GaugeMetricFamily(f"{ns}_gpu_memory_used_bytes", "GPU memory in use (NVML)", labels=["gpu"])
        try:
            for i in range(self._nvml.nvmlDeviceGetCount()):
                handle = self._nvml.nvmlDeviceGetHandleByIndex(i)
                util.add_metric([str(i)], self._nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
                mem.add_metric([str(i)], self._nvml.nvmlDeviceGetMemoryInfo(handle).used)
        except Exception as e:  # noqa: BLE001 - a GPU that went away must not break the scrape
            log.warning("NVML read failed: %s", e)
            return
        yield util
        yield mem


def _nvml():
    try:
        import pynvml

        pynvml.nvmlInit()
        return pynvml
    except Exception:  # noqa: BLE001 - no driver, no library, no GPU: no GPU gauges
        return None


def register(registry, namespace: str = "tandem") -> ProcessCollector:
    collector = ProcessCollector(namespace)
    registry.register(collector)
    return collector


_registered: weakref.WeakSet = weakref.WeakSet()


def ensure_registered(registry, namespace: str = "tandem") -> None:
    """Register the process gauges on `registry` once (a Metrics object may serve several servers)."""
    if registry not in _registered:
        register(registry, namespace)
        _registered.add(registry)


class WorkersCollector(Collector):
    """The parent of `--processes N`: CPU and resident memory summed over itself and its workers
    (`pids()` returns the live ones); the same gauge names as one process's. No GPU gauges here."""

    def __init__(self, pids, namespace: str = "tandem"):
        self._pids = pids
        self._ns = namespace
        self._processes: dict[int, psutil.Process] = {}

    def collect(self):
        cpu = rss = 0.0
        live = set(self._pids())
        for pid in list(self._processes):
            if pid not in live:
                del self._processes[pid]
        for pid in live:
            process = self._processes.get(pid)
            try:
                if process is None:  # its first reading is the baseline: it counts from the next scrape
                    process = self._processes[pid] = psutil.Process(pid)
                    process.cpu_percent(None)
                with process.oneshot():
                    cpu += process.cpu_percent(None)
                    rss += process.memory_info().rss
            except psutil.Error:  # it exited between the listing and the reading
                self._processes.pop(pid, None)
        yield GaugeMetricFamily(f"{self._ns}_process_cpu_percent", "CPU used by the server's processes since the "
                                "last scrape (100 = one core)", value=cpu)
        yield GaugeMetricFamily(f"{self._ns}_process_resident_bytes", "Resident memory of the server's processes",
                                value=rss)
