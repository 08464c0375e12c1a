"""The sweep scenario's figures: per concurrency step, throughput and p50/p99, and the highest
throughput whose p99 stays under the SLO (the idea of perf_analyzer's --latency-threshold).

A step's figures leave out its first second (users starting); each is the median over rounds of
that step's req/s, p50 and p99. `slo_step` is the step with the highest median req/s whose median
p99 is under `slo_p99_ms` (without an SLO: the step with the highest req/s); None when no step is.
"""

from __future__ import annotations

import numpy as np

from . import seconds
from .bootstrap import Data

SETTLE_S = 1


def step_windows(sweep: dict) -> list[tuple[int, int]]:
    """[first, last) second indices of each step, less its settling second."""
    return [(int(st["start_s"]) + SETTLE_S, int(st["end_s"])) for st in sweep["steps"]]


def _figures(rec: dict, window: tuple[int, int]) -> tuple[float, float, float] | None:
    lengths, ok, hist = seconds.dense(rec, *window)
    if not lengths.size or not ok.sum():
        return None
    pooled = hist.sum(axis=0)
    return float(ok.sum() / lengths.sum()), float(seconds.quantile(pooled, 0.5)), float(seconds.quantile(pooled, 0.99))


def steps(rounds: list[dict]) -> list[dict]:
    """Per step: users, rps / p50_ms / p99_ms (medians over rounds), rounds measured."""
    measured = [r for r in rounds if r.get("sweep") and r.get("seconds")]
    if not measured:
        return []
    plan = measured[0]["sweep"]["steps"]
    out = []
    for i, (st, window) in enumerate(zip(plan, step_windows(measured[0]["sweep"]))):
        figs = [f for f in (_figures(r["seconds"], window) for r in measured) if f is not None]
        arr = np.asarray(figs) if figs else np.zeros((0, 3))
        out.append({"step": i + 1, "users": st["users"], "rounds": len(figs),
                    "rps": round(float(np.median(arr[:, 0])), 3) if figs else None,
                    "p50_ms": round(float(np.median(arr[:, 1])), 3) if figs else None,
                    "p99_ms": round(float(np.median(arr[:, 2])), 3) if figs else None})
    return out


def slo_step(table: list[dict], slo_p99_ms: float | None) -> dict | None:
    ok = [s for s in table if s["rps"] is not None and (slo_p99_ms is None or s["p99_ms"] < slo_p99_ms)]
    return max(ok, key=lambda s: s["rps"]) if ok else None


def step_data(rounds: list[dict], step: dict | None) -> Data:
    """The per-second data of one step over the rounds (for the verdicts)."""
    if step is None:
        return Data([])
    measured = [r for r in rounds if r.get("sweep") and r.get("seconds")]
    if not measured:
        return Data([])
    window = step_windows(measured[0]["sweep"])[step["step"] - 1]
    return Data.from_records([r["seconds"] for r in measured], window)
