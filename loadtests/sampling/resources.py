"""The sampler's raw series, cut to the measured window, in the report's form."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def stats(values: Sequence[float | None]) -> dict:
    """{mean, max} of the values that are not None; both None when there is none."""
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    if not v.size:
        return {"mean": None, "max": None}
    return {"mean": round(float(v.mean()), 2), "max": round(float(v.max()), 2)}


def _cut(series: Sequence, keep: Sequence[bool]) -> list:
    return [None if x is None else round(float(x), 2) for x, k in zip(series, keep) if k]


def summarize(raw: dict, start: float, end: float) -> dict:
    """Series relative to `start` within [start, end] (wall-clock seconds), with mean/max of each.

    A process given by pid: `process` {pid, name, cmdline}, `cpu_percent` / `rss_mb` {mean, max},
    `series` {t, cpu_percent, rss_mb}; no pid: `process` None and `note` says so. GPUs: `gpu`
    {available: false, reason} or {available: true, devices: [...]}."""
    t = raw.get("t", [])
    keep = [start <= x <= end for x in t]
    rel = [round(x - start, 3) for x, k in zip(t, keep) if k]
    out = {"interval_s": raw.get("interval_s"), "cpu_count": raw.get("cpu_count"),
           "process": raw.get("process"), "samples": len(rel)}
    if raw.get("process"):
        cpu, rss = _cut(raw["cpu_percent"], keep), _cut(raw["rss_mb"], keep)
        out.update(cpu_percent=stats(cpu), rss_mb=stats(rss),
                   series={"t": rel, "cpu_percent": cpu, "rss_mb": rss})
        gone = raw.get("process_gone_at")
        out["note"] = None if gone is None else f"the process ended {gone - start:.1f} s into the measurement"
    else:
        out.update(cpu_percent=stats([]), rss_mb=stats([]), series=None,
                   note="no service process was given (--torch-pid / --tf-pid) or found on this "
                        "machine, so its CPU and memory were not sampled")
    gpu = raw.get("gpu") or {"available": False, "reason": "no GPU: not sampled"}
    if not gpu.get("available"):
        out["gpu"] = {"available": False, "reason": gpu.get("reason") or "no GPU"}
        return out
    devices = []
    for d in gpu["devices"]:
        series = {k: _cut(d[k], keep) for k in ("util_percent", "memory_used_mb", "power_w",
                                                  "process_util_percent", "process_memory_mb")}
        devices.append({"index": d["index"], "name": d["name"], "memory_total_mb": d["memory_total_mb"],
                        **{k: stats(v) for k, v in series.items()}, "series": {"t": rel, **series}})
    out["gpu"] = {"available": True, "devices": devices, "process_note": gpu.get("process_note")}
    return out
