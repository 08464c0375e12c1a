"""GPU sampling through NVML: the documented fake module everywhere, the real one where it works."""

from __future__ import annotations

import os
import re

import pytest

from loadtests.render import charts
from loadtests.render.html import render_html
from loadtests.render.report import model_entry, new_report
from loadtests.render.summary import summary_rows
from loadtests.sampling.resources import summarize
from loadtests.sampling.sampler import GpuProbe, ResourceSampler
from tests.loadtests.fake_nvml import NVML_ERROR_DRIVER_NOT_LOADED, FakeGpu, FakeNvml, FakeProcess
from tests.support.ports import wait_for

GiB = 2**30


def _fake(per_process=True) -> FakeNvml:
    gpu = FakeGpu("Fake H100", memory_total=80 * GiB, util=lambda t: 60.0, memory_used=12 * GiB,
                  power_mw=250_000, per_process_supported=per_process)
    gpu.processes[os.getpid()] = FakeProcess(sm_util=35, used_memory=2 * GiB)
    gpu.processes[1] = FakeProcess(sm_util=20, used_memory=GiB)  # someone else's process
    return FakeNvml([gpu, FakeGpu("Fake L4", memory_total=24 * GiB)])


def test_probe_reads_every_device_in_pynvml_units():
    nvml = _fake()
    probe = GpuProbe(nvml)
    assert probe.available and [d["name"] for d in probe.devices] == ["Fake H100", "Fake L4"]
    first, second = probe.sample({os.getpid()})
    assert first["util_percent"] == 60.0 and first["memory_used_mb"] == 12 * 1024
    assert first["power_w"] == 250.0  # NVML reports milliwatts
    assert first["process_util_percent"] == 35.0  # only this process's share, not pid 1's
    assert first["process_memory_mb"] == 2 * 1024
    assert second["util_percent"] == 0.0 and second["process_util_percent"] == 0.0  # no sample: idle
    probe.close()
    assert nvml.initialised == 0  # nvmlShutdown matched nvmlInit


def test_per_process_utilisation_not_supported_is_said():
    probe = GpuProbe(_fake(per_process=False))
    first, _ = probe.sample({os.getpid()})
    assert first["process_util_percent"] is None and first["util_percent"] == 60.0
    assert "not reported by this driver" in probe.process_note
    probe.close()


def test_no_driver_means_no_gpu_in_words():
    probe = GpuProbe(FakeNvml(init_error=NVML_ERROR_DRIVER_NOT_LOADED))
    assert not probe.available
    assert probe.reason == "no GPU: NVML is not available on this machine (Driver Not Loaded)"
    assert GpuProbe(FakeNvml([])).reason == "no GPU: NVML reports no device"


def test_sampler_series_reach_the_report_and_its_plots():
    sampler = ResourceSampler(os.getpid(), interval=0.05, nvml=_fake()).start()
    wait_for(lambda: len(sampler.t) >= 5, timeout=10, what="5 samples")
    sampler.stop()
    raw = sampler.result()
    res = summarize(raw, raw["t"][0], raw["t"][-1])
    gpu = res["gpu"]
    assert gpu["available"] and len(gpu["devices"]) == 2
    h100 = gpu["devices"][0]
    assert h100["util_percent"] == {"mean": 60.0, "max": 60.0}
    assert h100["memory_total_mb"] == 80 * 1024 and h100["power_w"]["mean"] == 250.0
    assert h100["process_util_percent"]["max"] == 35.0
    assert len(h100["series"]["util_percent"]) == res["samples"] >= 5
    service = {"name": "torch", "status": "ok", "resources": res}
    report = new_report([model_entry("m", {"scenario": "throughput"}, [service])], machine={})
    assert summary_rows(report)[0]["gpu"] == "60.0 % (own 35.0 %), 0.0 % (own 0.0 %)"
    svg = charts.gpu_util([service])
    assert "GPU utilisation" in svg and svg.count("<polyline") == 4  # 2 devices x (all, own)
    html = render_html(report)
    assert ">GPU memory used (dashed: the service's own processes)</text>" in html.replace("&#x27;", "'")
    assert 'class="note"' not in html  # no "no GPU" notice


def test_real_nvml_when_present_else_no_gpu_in_words():
    """On a GPU machine this samples the real devices; elsewhere the real pynvml must fail to
    initialise and the probe must say "no GPU" (never zeros)."""
    pynvml = pytest.importorskip("pynvml")
    probe = GpuProbe(pynvml)
    if not probe.available:
        assert re.match(r"no GPU: ", probe.reason)
        assert probe.devices == []
        return
    try:
        rows = probe.sample({os.getpid()})
        assert len(rows) == len(probe.devices) >= 1
        for device, row in zip(probe.devices, rows):
            assert device["memory_total_mb"] > 0
            assert 0 <= row["util_percent"] <= 100
            assert 0 <= row["memory_used_mb"] <= device["memory_total_mb"]
            assert row["power_w"] is None or row["power_w"] > 0
    finally:
        probe.close()
