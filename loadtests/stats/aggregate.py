"""One target's figures over its rounds, in the form the report shows.

A target entry keeps every round (`rounds`: its status, requests, exact latency percentiles,
per-second records, server time, client CPU) and, at its top level, the figures of all rounds:
req/s and each latency percentile are medians over the measured rounds; counts, errors and checks
are sums; the CDF pools every round; the timeline, users and resources are the median round's
(`median_round`, the round whose req/s is the median), so the plots show one real run.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from . import seconds
from .samples import PERCENTILES

STATUS_ORDER = ("died", "failed", "interrupted", "skipped", "ok")
ROUND_KEYS = ("round", "status", "message", "started_at", "duration_s", "requests", "latency_ms", "seconds",
              "server_time", "client", "errors", "checks", "log", "locust_exit_code", "log_tail", "sweep")
MEDIAN_ROUND_KEYS = ("timeline", "users", "resources", "reference", "ramp", "sweep", "inputs", "started_at")


def _median(values) -> float | None:
    v = [x for x in values if x is not None]
    return round(float(np.median(v)), 3) if v else None


def pooled_cdf(records: Iterable[dict | None], points: int = 200) -> list[list[float]]:
    hist = np.zeros(seconds.BUCKETS)
    for rec in records:
        if rec and rec.get("hist"):
            hist += seconds.dense(rec)[2].sum(axis=0)
    total = hist.sum()
    if not total:
        return []
    body = np.linspace(0.0, 0.99, points // 2, endpoint=False)
    tail = 1.0 - np.logspace(-2, -4, points - points // 2)
    qs = np.unique(np.clip(np.concatenate([body, tail, [1.0]]), 0.0, 1.0))
    return [[round(float(seconds.quantile(hist, q)), 3), round(float(q), 6)] for q in qs]


def _errors(rounds: list[dict]) -> list[dict]:
    merged: dict[str, dict] = {}
    for r in rounds:
        for e in r.get("errors") or []:
            m = merged.setdefault(e["kind"], {"kind": e["kind"], "count": 0, "examples": []})
            m["count"] += e["count"]
            m["examples"] += [x for x in e.get("examples", []) if x not in m["examples"]][:5 - len(m["examples"])]
    return sorted(merged.values(), key=lambda e: (-e["count"], e["kind"]))


def _server_time(rounds: list[dict]) -> dict | None:
    parts = [r["server_time"] for r in rounds if r.get("server_time")]
    if not parts:
        return None
    total = sum(p["requests"] for p in parts)
    out: dict = {"requests": total, "executions": sum(p["executions"] for p in parts)}
    for key in ("success_ms", "queue_ms", "compute_input_ms", "compute_infer_ms", "compute_output_ms"):
        known = [(p[key], p["requests"]) for p in parts if p.get(key) is not None]
        out[key] = round(sum(v * n for v, n in known) / sum(n for _, n in known), 4) if known else None
    sizes: dict[str, int] = {}
    for p in parts:
        for k, v in p.get("batch_sizes", {}).items():
            sizes[k] = sizes.get(k, 0) + v
    out["batch_sizes"] = dict(sorted(sizes.items(), key=lambda kv: int(kv[0])))
    return out


def target_entry(info: dict, rounds: list[dict]) -> dict:
    """`info`: name, url, kind, address, pid, pid_source; `rounds` in round order."""
    measured = [r for r in rounds if r.get("requests")]
    worst = min((r["status"] for r in rounds), key=STATUS_ORDER.index, default="skipped")
    bad = [r for r in rounds if r["status"] != "ok"]
    entry = {**info, "status": worst,
             "message": "; ".join(f"round {r.get('round')}: {r.get('message')}" for r in bad) or None,
             "rounds": [{k: r.get(k) for k in ROUND_KEYS if k in r} for r in rounds]}
    if not measured:
        entry["log_tail"] = next((r.get("log_tail") for r in rounds if r.get("log_tail")), None)
        return entry
    rps = [r["requests"]["rps"] for r in measured]
    order = np.argsort(rps)
    median_round = measured[int(order[(len(order) - 1) // 2])]
    total = sum(r["requests"]["total"] for r in measured)
    failed = sum(r["requests"]["failed"] for r in measured)
    entry.update({k: median_round.get(k) for k in MEDIAN_ROUND_KEYS})
    entry["median_round"] = median_round.get("round")
    entry["duration_s"] = round(sum(r["duration_s"] for r in measured), 3)
    entry["requests"] = {"total": total, "ok": total - failed, "failed": failed,
                         "error_rate": round(failed / total, 6) if total else 0.0, "rps": _median(rps),
                         "inferences_per_s": _median(r["requests"]["inferences_per_s"] for r in measured)}
    keys = ["min", "mean", *(k for k, _ in PERCENTILES), "max"]
    entry["latency_ms"] = {"count": sum(r["latency_ms"]["count"] for r in measured),
                           **{k: _median(r["latency_ms"].get(k) for r in measured) for k in keys}}
    entry["cdf"] = pooled_cdf([r.get("seconds") for r in measured])
    entry["errors"] = _errors(rounds)
    entry["checks"] = {k: sum(r["checks"][k] for r in measured) for k in ("sampled", "passed", "failed")}
    entry["server_time"] = _server_time(measured)
    cpus = [r["client"]["cpu_percent"] for r in measured if (r.get("client") or {}).get("cpu_percent")]
    entry["client"] = {"cpu_percent": {"mean": max((c["mean"] for c in cpus if c["mean"] is not None), default=None),
                                       "max": max((c["max"] for c in cpus if c["max"] is not None), default=None)},
                       "bound": any((r.get("client") or {}).get("bound") for r in measured)}
    return entry
