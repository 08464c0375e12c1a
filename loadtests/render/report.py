"""The comparison report: its JSON document, merging several, writing the three files.

Schema "tandem.loadtest.report/2" (report.json; every figure excludes the warm-up)::

    {
      "schema": "tandem.loadtest.report/2",
      "generated_at": ISO-8601 UTC,
      "machine": {"platform": str, "python": str, "cpu_count": int, "gpus": [str] | "no GPU: <why>"},
      "models": [Model]                       # one per comparison, in run order (the same model twice stays twice)
    }
    Model = {
      "model": str, "settings": {scenario, users, rounds, spawn_rate, duration_s, warmup_s, model_version,
                                 batch_size, inputs, deadline_s, check_rate, check_atol, check_rtol,
                                 sampling_interval_s, [ramp_*], [sweep_users, step_s, slo_p99_ms]},
      "inputs": str,                          # what was sent (the same request set to every target)
      "parity": Parity | null,                # from --parity (see loadtests.run.parity)
      "behaviour": Behaviour | null,          # from --behaviour: statuses per bad request (loadtests.run.behaviour)
      "targets": [Target],                    # in the order given
      "verdicts": [Verdict],                  # every pair of targets (loadtests.stats.verdicts)
      "method": str,                          # how the intervals were computed (loadtests.stats.bootstrap)
      "sweep": null | {name: {"steps": [{step, users, rounds, rps, p50_ms, p99_ms}], "slo_step": step | null}},
      "complete": bool                        # every target measured in every round (status "ok")
    }
    Target = {
      "name": str, "url": str, "kind": "grpc" | "http" | "torchserve" | "tfserving", "address": "HOST:PORT",
      "pid": int | null, "pid_source": str, "model_config": dict | null,   # ModelConfig, when answered
      "reports_server_time": bool,            # its kind can ask for OIP ModelStatistics (grpc, http)
      "status": "ok" | "died" | "failed" | "interrupted" | "skipped",     # the worst of its rounds
      "message": str | null,
      "rounds": [Round],                      # every round, in order (see below)
      # over the measured rounds (loadtests.stats.aggregate):
      "median_round": int, "duration_s": float (sum),
      "requests": {"total", "ok", "failed": int (sums), "error_rate": float,
                   "rps", "inferences_per_s": float (medians over rounds)},
      "latency_ms": {"count", "min", "mean", "p50", "p90", "p99", "p99_9", "max"},  # medians of each
                                              # round's exact percentiles
      "cdf": [[latency_ms, fraction <= it]],  # every round pooled (2 % latency buckets)
      "errors": [{"kind", "count", "examples"}], "checks": {"sampled", "passed", "failed"},
      "server_time": null | {"requests", "executions", "success_ms", "queue_ms", "compute_input_ms",
                             "compute_infer_ms", "compute_output_ms", "batch_sizes": {size: executions}},
      "client": {"cpu_percent": {"mean", "max"}, "bound": bool},  # the load generator (Locust) itself
      # from the median round: "timeline", "users", "resources", "reference", "ramp", "sweep", "started_at"
    }
    Round = {"round", "status", "message", "started_at", "duration_s", "requests", "latency_ms",
             "seconds" (loadtests.stats.seconds), "server_time", "client", "errors", "checks", "log", ...}
    Timeline = {"t": [s], "rps": [...], "errors_per_s": [...], "p50_ms": [...], "p99_ms": [...]}
    Resources = {"interval_s", "cpu_count", "samples", "process": {pid, name, cmdline} | null,
                 "note", "cpu_percent": {mean, max}, "rss_mb": {mean, max}, "series" | null,
                 "gpu": {"available": false, "reason"} | {"available": true, "devices": [...]}}

Times in series are seconds from the end of the warm-up. Values are null where not measured.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from .write import read_json, write

SCHEMA = "tandem.loadtest.report/2"


def _machine() -> dict:
    import psutil

    from ..sampling.sampler import GpuProbe

    probe = GpuProbe()
    gpus = [d["name"] for d in probe.devices] if probe.devices else probe.reason
    probe.close()
    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpu_count": psutil.cpu_count(), "gpus": gpus}


def model_entry(model: str, settings: dict, targets: list[dict], *, parity: dict | None = None,
                behaviour: dict | None = None, inputs: str = "", verdicts: list[dict] | None = None,
                method: str = "", sweep: dict | None = None) -> dict:
    return {"model": model, "settings": settings, "inputs": inputs, "parity": parity, "behaviour": behaviour,
            "targets": targets, "verdicts": verdicts or [], "method": method, "sweep": sweep,
            "complete": all(t.get("status") == "ok" for t in targets)}


def new_report(models: list[dict], machine: dict | None = None) -> dict:
    return {"schema": SCHEMA, "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": machine or _machine(), "models": models}


def load(path: str | Path) -> dict:
    """A report from report.json or a folder holding one; ValueError saying what is wrong."""
    path = Path(path)
    if path.is_dir():
        path = path / "report.json"
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise ValueError(f"{path} is not a Tandem load-test report (expected schema {SCHEMA})")
    if data.get("schema") != SCHEMA:
        raise ValueError(f"{path} has schema {data.get('schema')!r}, not {SCHEMA}: re-run the comparison "
                         "with this version of Tandem")
    return data


def merge(reports: Iterable[dict]) -> dict:
    """One report holding every model of the given reports, in order (two runs of the same model
    both stay)."""
    reports = list(reports)
    if not reports:
        raise ValueError("nothing to merge: no report given")
    models = [m for r in reports for m in r["models"]]
    return new_report(models, machine=reports[-1].get("machine"))


def combine(inputs: Iterable[str | Path], out_dir: str | Path) -> tuple[dict, dict[str, Path]]:
    """Merge the reports in `inputs` (folders or report.json files) and write them to `out_dir`:
    the main job's one report over every model. ValueError when an input is not a report."""
    merged = merge(load(p) for p in inputs)
    return merged, write(merged, out_dir)
