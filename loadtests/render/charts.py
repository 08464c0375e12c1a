"""The report's plots for one model, from its report entry: each returns an SVG string."""

from __future__ import annotations

from ..stats.samples import PERCENTILES
from .svg import PALETTE, Series, bar_chart, empty_chart, line_chart


def color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _measured(targets: list[dict]) -> list[tuple[int, dict]]:
    return [(i, s) for i, s in enumerate(targets) if s.get("timeline")]


def mid(t: list[float]) -> list[float]:
    """Bucket midpoints from the buckets' end times (the timeline's `t`)."""
    return [(a + b) / 2 for a, b in zip([0.0, *t[:-1]], t)]


def throughput(targets: list[dict]) -> str:
    series = [Series(s["name"], mid(s["timeline"]["t"]), s["timeline"]["rps"], color(i))
              for i, s in _measured(targets)]
    return line_chart(series, title="Throughput over time (median round)", x_label="seconds (after warm-up)",
                      y_label="successful requests / s", empty="no request was measured")


def latency_over_time(targets: list[dict]) -> str:
    series = []
    for i, s in _measured(targets):
        series.append(Series(f"{s['name']} p50", mid(s["timeline"]["t"]), s["timeline"]["p50_ms"], color(i)))
        series.append(Series(f"{s['name']} p99", mid(s["timeline"]["t"]), s["timeline"]["p99_ms"], color(i), True))
    return line_chart(series, title="Latency over time (per second)", x_label="seconds (after warm-up)",
                      y_label="ms", empty="no request was measured")


def percentiles(targets: list[dict]) -> str:
    groups = [k.replace("_", ".") for k, _ in PERCENTILES]
    series = [(s["name"], [(s.get("latency_ms") or {}).get(k) for k, _ in PERCENTILES], color(i))
              for i, s in enumerate(targets) if s.get("latency_ms")]
    return bar_chart(groups, series, title="Latency percentiles (exact)", y_label="ms",
                     empty="no successful request")


def cdf(targets: list[dict]) -> str:
    series = [Series(s["name"], [p[0] for p in s["cdf"]], [p[1] * 100 for p in s["cdf"]], color(i))
              for i, s in enumerate(targets) if s.get("cdf")]
    return line_chart(series, title="Latency CDF", x_label="latency, ms (log scale)",
                      y_label="% of requests at or below", log_x=True, y_range=(0, 100),
                      empty="no successful request")


def errors(targets: list[dict]) -> str:
    series = [Series(s["name"], mid(s["timeline"]["t"]), s["timeline"]["errors_per_s"], color(i))
              for i, s in _measured(targets)]
    return line_chart(series, title="Errors over time (failed requests and wrong answers)",
                      x_label="seconds (after warm-up)", y_label="errors / s", empty="no request was measured")


def _resource_series(targets, key):
    out = []
    for i, s in enumerate(targets):
        series = (s.get("resources") or {}).get("series")
        if series:
            out.append(Series(s["name"], series["t"], series[key], color(i)))
    return out


def cpu(targets: list[dict]) -> str:
    series = _resource_series(targets, "cpu_percent")
    if not series:
        return empty_chart("CPU of each target",
                           "no target process was sampled (give a pid, or run the servers on this machine)")
    cores = next((s["resources"].get("cpu_count") for s in targets if s.get("resources")), None)
    return line_chart(series, title=f"CPU of each target (process and children; 100 % = one core"
                                    f"{f', {cores} cores' if cores else ''})",
                      x_label="seconds (after warm-up)", y_label="CPU %")


def memory(targets: list[dict]) -> str:
    series = _resource_series(targets, "rss_mb")
    if not series:
        return empty_chart("Memory of each target", "no target process was sampled")
    return line_chart(series, title="Memory of each target (RSS, process and children)",
                      x_label="seconds (after warm-up)", y_label="MB")


def no_gpu_reason(targets: list[dict]) -> str | None:
    """The reason in words when no service run saw a GPU, else None."""
    gpus = [(s.get("resources") or {}).get("gpu") or {} for s in targets if s.get("resources")]
    if any(g.get("available") for g in gpus):
        return None
    return next((g.get("reason") for g in gpus if g.get("reason")), "no GPU")


def _gpu_series(targets, key, own_key=None):
    out = []
    for i, s in enumerate(targets):
        gpu = (s.get("resources") or {}).get("gpu") or {}
        for d in gpu.get("devices", []):
            tag = f"{s['name']} GPU {d['index']}"
            out.append(Series(tag, d["series"]["t"], d["series"][key], color(i)))
            if own_key and any(v is not None for v in d["series"][own_key]):
                out.append(Series(f"{tag} own", d["series"]["t"], d["series"][own_key], color(i), True))
    return out


def gpu_util(targets: list[dict]) -> str:
    reason = no_gpu_reason(targets)
    if reason:
        return empty_chart("GPU utilisation", reason)
    return line_chart(_gpu_series(targets, "util_percent", "process_util_percent"),
                      title="GPU utilisation (dashed: the service's own processes)",
                      x_label="seconds (after warm-up)", y_label="%", y_range=(0, 100))


def gpu_memory(targets: list[dict]) -> str:
    reason = no_gpu_reason(targets)
    if reason:
        return empty_chart("GPU memory", reason)
    return line_chart(_gpu_series(targets, "memory_used_mb", "process_memory_mb"),
                      title="GPU memory used (dashed: the service's own processes)",
                      x_label="seconds (after warm-up)", y_label="MB")


def ramp(targets: list[dict]) -> list[str]:
    """Throughput and p99 per step against users, for ramp runs."""
    ramps = [(i, s) for i, s in enumerate(targets) if s.get("ramp") and s["ramp"].get("steps")]
    if not ramps:
        return []
    rps = [Series(s["name"], [st["users"] for st in s["ramp"]["steps"]], [st["rps"] for st in s["ramp"]["steps"]],
                  color(i)) for i, s in ramps]
    p99 = [Series(s["name"], [st["users"] for st in s["ramp"]["steps"]],
                  [st["p99_ms"] for st in s["ramp"]["steps"]], color(i)) for i, s in ramps]
    return [line_chart(rps, title="Ramp: throughput per step", x_label="users", y_label="requests / s"),
            line_chart(p99, title="Ramp: p99 latency per step", x_label="users", y_label="ms")]


def sweep(targets: list[dict], curves: dict | None) -> list[str]:
    """Latency against throughput, one point per concurrency step (medians over rounds)."""
    if not curves:
        return []
    p50, p99 = [], []
    for i, t in enumerate(targets):
        steps = [st for st in (curves.get(t["name"]) or {}).get("steps", []) if st["rps"] is not None]
        xs = [st["rps"] for st in steps]
        p50.append(Series(f"{t['name']} p50", xs, [st["p50_ms"] for st in steps], color(i)))
        p99.append(Series(f"{t['name']} p99", xs, [st["p99_ms"] for st in steps], color(i), True))
    return [line_chart(p50 + p99, title="Sweep: latency against throughput (a point per concurrency step)",
                       x_label="successful requests / s", y_label="ms", empty="no step was measured")]


def all_charts(targets: list[dict], curves: dict | None = None) -> list[str]:
    """Every chart of a model; the GPU charts only when a target's run saw a GPU (else the report
    says why in one line instead of two empty charts)."""
    gpus = [gpu_util(targets), gpu_memory(targets)] if no_gpu_reason(targets) is None else []
    return [*sweep(targets, curves), throughput(targets), latency_over_time(targets), percentiles(targets),
            cdf(targets), errors(targets), cpu(targets), memory(targets), *gpus, *ramp(targets)]
