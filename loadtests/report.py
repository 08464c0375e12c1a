"""The comparison report: its JSON document, merging several, writing the three files.

Schema "tandem.loadtest.report/1" (report.json; every figure excludes the warm-up)::

    {
      "schema": "tandem.loadtest.report/1",
      "generated_at": ISO-8601 UTC,
      "machine": {"platform": str, "python": str, "cpu_count": int, "gpus": [str] | "no GPU: <why>"},
      "models": [Model]                       # one per model compared, in run order
    }
    Model = {
      "model": str, "settings": {scenario, users, spawn_rate, duration_s, warmup_s, model_version,
                                 batch_size, inputs, deadline_s, check_rate, check_atol, check_rtol,
                                 sampling_interval_s, [ramp_*]},   # identical for every service
      "inputs": str,                          # what was sent (file or generated, how many requests)
      "parity": Parity | null,                # from --parity (see loadtests.parity)
      "services": [Service],                  # in run order (torch, tf)
      "complete": bool                        # every service measured (status "ok")
    }
    Service = {
      "name": "torch" | "tf", "address": "HOST:PORT", "pid": int | null, "pid_source": str,
      "status": "ok" | "died" | "failed" | "interrupted" | "skipped",
      "message": str | null,                  # what happened, when not ok
      "log": path of Locust's output, "locust_exit_code": int, "log_tail": str (when not ok),
      # present whenever Locust wrote results (also for a service that died mid-run):
      "started_at": ISO-8601 (end of warm-up), "duration_s": float (measured seconds),
      "requests": {"total", "ok", "failed": int, "error_rate": float, "rps": float (ok requests/s),
                   "inferences_per_s": float (rps x batch size)},
      "latency_ms": {"count", "min", "mean", "p50", "p90", "p99", "p99_9", "max"},  # ok requests,
                                              # exact (not Locust's rounded buckets); null if none
      "cdf": [[latency_ms, fraction <= it]],  # up to 200 points, dense in the tail
      "timeline": {"t": [s], "rps": [...], "errors_per_s": [...], "p50_ms": [...], "p99_ms": [...]},
      "users": {"t": [s], "count": [int]},
      "errors": [{"kind": "UNAVAILABLE" | "DEADLINE_EXCEEDED" | "WRONG_ANSWER" | ..., "count": int,
                  "examples": [str]}],
      "checks": {"sampled", "passed", "failed": int},   # answers checked against the reference
      "reference": "inputs file" | "first response" | "not checked",
      "locust_totals": {"requests", "failures"},       # Locust's own count, after its reset
      "ramp": null | {"steps": [{users, start_s, end_s, requests, rps, error_rate, p50_ms, p99_ms,
                                 verdict, reason}], "knee": step | null, "stop_reason": str},
      "resources": {
        "interval_s", "cpu_count", "samples": int,
        "process": {"pid", "name", "cmdline"} | null, "note": str | null,
        "cpu_percent": {"mean", "max"}, "rss_mb": {"mean", "max"},   # 100 % = one core
        "series": {"t", "cpu_percent", "rss_mb"} | null,
        "gpu": {"available": false, "reason": "no GPU: ..."}
             | {"available": true, "process_note": str | null, "devices": [{
                  "index", "name", "memory_total_mb",
                  "util_percent", "memory_used_mb", "power_w", "process_util_percent",
                  "process_memory_mb": {"mean", "max"},     # process_*: the service's own share
                  "series": {"t", "util_percent", "memory_used_mb", "power_w",
                             "process_util_percent", "process_memory_mb"}}]}
      }
    }

Times in series are seconds from the end of the warm-up. Values are null where not measured.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

SCHEMA = "tandem.loadtest.report/1"


def _machine() -> dict:
    import psutil

    from .sampler import GpuProbe

    probe = GpuProbe()
    gpus = [d["name"] for d in probe.devices] if probe.devices else probe.reason
    probe.close()
    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpu_count": psutil.cpu_count(), "gpus": gpus}


def model_entry(model: str, settings: dict, services: list[dict], *, parity: dict | None = None,
                inputs: str = "") -> dict:
    return {"model": model, "settings": settings, "inputs": inputs, "parity": parity, "services": services,
            "complete": all(s.get("status") == "ok" for s in services)}


def new_report(models: list[dict], machine: dict | None = None) -> dict:
    return {"schema": SCHEMA, "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": machine or _machine(), "models": models}


def load(path: str | Path) -> dict:
    """A report from report.json or a folder holding one; ValueError saying what is wrong."""
    path = Path(path)
    if path.is_dir():
        path = path / "report.json"
    try:
        data = json.loads(path.read_text())
    except OSError as e:
        raise ValueError(f"{path}: cannot read it ({e.strerror})") from None
    except ValueError as e:
        raise ValueError(f"{path} is not JSON: {e}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("models"), list):
        raise ValueError(f"{path} is not a Tandem load-test report (expected schema {SCHEMA})")
    return data


def merge(reports: Iterable[dict]) -> dict:
    """One report holding every model of the given reports, in order (a later result for the
    same model and scenario replaces an earlier one)."""
    reports = list(reports)
    if not reports:
        raise ValueError("nothing to merge: no report given")
    models: dict[tuple, dict] = {}
    for r in reports:
        for m in r["models"]:
            models[(m["model"], m["settings"].get("scenario"))] = m
    return new_report(list(models.values()), machine=reports[-1].get("machine"))


def combine(inputs: Iterable[str | Path], out_dir: str | Path) -> tuple[dict, dict[str, Path]]:
    """Merge the reports in `inputs` (folders or report.json files) and write them to `out_dir`:
    the main job's one report over every model. ValueError when an input is not a report."""
    merged = merge(load(p) for p in inputs)
    return merged, write(merged, out_dir)


def _fmt(value, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def gpu_cell(service: dict) -> str:
    """GPU utilisation in words for a summary: the mean %, or "no GPU"."""
    gpu = (service.get("resources") or {}).get("gpu") or {}
    if not gpu.get("available"):
        return "no GPU"
    cells = []
    for d in gpu["devices"]:
        own = d.get("process_util_percent", {}).get("mean")
        util = d.get("util_percent", {}).get("mean")
        cells.append(f"{_fmt(util)} %" + (f" (own {_fmt(own)} %)" if own is not None else ""))
    return ", ".join(cells)


def summary_rows(report: dict) -> list[dict]:
    """Per model and service: parity verdict, req/s, p50/p99, CPU %, GPU % or "no GPU", status."""
    rows = []
    for m in report["models"]:
        parity = (m.get("parity") or {}).get("verdict", "not run")
        for s in m["services"]:
            latency = s.get("latency_ms") or {}
            cpu = ((s.get("resources") or {}).get("cpu_percent") or {}).get("mean")
            rows.append({"model": m["model"], "scenario": m["settings"].get("scenario"), "service": s["name"],
                         "parity": parity, "rps": (s.get("requests") or {}).get("rps"),
                         "p50_ms": latency.get("p50"), "p99_ms": latency.get("p99"),
                         "cpu": "-" if cpu is None else f"{cpu:.0f} %", "gpu": gpu_cell(s),
                         "status": s.get("status"), "message": s.get("message")})
    return rows


def summary_table(report: dict) -> str:
    """The summary as an aligned text table, for terminals."""
    header = ("model", "service", "parity", "req/s", "p50 ms", "p99 ms", "CPU %", "GPU %", "status")
    lines = [header]
    for r in summary_rows(report):
        lines.append((r["model"], r["service"], r["parity"], _fmt(r["rps"]), _fmt(r["p50_ms"], ".2f"),
                      _fmt(r["p99_ms"], ".2f"), r["cpu"], r["gpu"], r["status"]))
    widths = [max(len(str(row[i])) for row in lines) for i in range(len(header))]
    return "\n".join("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip() for row in lines)


def write(report: dict, out_dir: str | Path) -> dict[str, Path]:
    """report.json, report.md and report.html in `out_dir`; their paths."""
    from .html_report import render_html
    from .markdown import render_markdown

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "md": out / "report.md", "html": out / "report.html"}
    texts = {"json": json.dumps(report, indent=1), "md": render_markdown(report), "html": render_html(report)}
    for key, path in paths.items():
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(texts[key], encoding="utf-8")
        tmp.replace(path)
    return paths
