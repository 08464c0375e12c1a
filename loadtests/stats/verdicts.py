"""Verdicts: per model and pair of targets, the difference with its interval and whether it is real.

    tf 1.31x torch req/s [1.22, 1.40], p99 -28 % [-35, -20]: significant

A pair is `significant` when the 95 % interval of the req/s ratio or of the p99 ratio excludes 1
(see loadtests.stats.bootstrap for the method), else `within noise`. Report form (report.json,
`models[].verdicts`)::

    {"a": name, "b": name, "rps": Interval, "p50_ms": Interval, "p99_ms": Interval,
     "significant": bool, "verdict": "significant" | "within noise" | "not measured", "line": str}
    Interval = {"ratio": b / a, "low", "high"}     # null where a side has no data
"""

from __future__ import annotations

from itertools import combinations

from . import bootstrap


def excludes_one(interval: dict) -> bool:
    return interval["low"] is not None and (interval["low"] > 1.0 or interval["high"] < 1.0)


def _pct(x: float) -> str:
    return f"{(x - 1) * 100:+.0f}"


def line(a: str, b: str, r: dict, verdict: str) -> str:
    rps, p99 = r["rps"], r["p99_ms"]
    if rps["ratio"] is None:
        return f"{b} vs {a}: not measured"
    text = f"{b} {rps['ratio']:.2f}x {a} req/s [{rps['low']:.2f}, {rps['high']:.2f}]"
    if p99["ratio"] is not None:
        text += f", p99 {_pct(p99['ratio'])} % [{_pct(p99['low'])}, {_pct(p99['high'])}]"
    return f"{text}: {verdict}"


def pair(a_name: str, a: bootstrap.Data, b_name: str, b: bootstrap.Data) -> dict:
    if not a or not b:
        empty = {"ratio": None, "low": None, "high": None}
        r = {"rps": empty, "p50_ms": empty, "p99_ms": empty}
        verdict, significant = "not measured", False
    else:
        r = bootstrap.ratio(a, b)
        significant = excludes_one(r["rps"]) or excludes_one(r["p99_ms"])
        verdict = "significant" if significant else "within noise"
    return {"a": a_name, "b": b_name, **r, "significant": significant, "verdict": verdict,
            "line": line(a_name, b_name, r, verdict)}


def all_pairs(data: dict[str, bootstrap.Data]) -> list[dict]:
    """Every pair of targets, in the order given (the later one over the earlier one)."""
    return [pair(a, data[a], b, data[b]) for a, b in combinations(list(data), 2)]
