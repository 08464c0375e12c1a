"""`python -m loadtests diff BASELINE CURRENT`: per model and target, the change from a baseline run
with its 95 % interval (the same bootstrap as the verdicts: loadtests.stats.bootstrap), and a
regression verdict, for CI.

A target is a `regression` when it got significantly slower by more than the tolerance: the upper
end of its req/s ratio's interval is below 1 - tolerance, or the lower end of its p99 ratio's is
above 1 + tolerance; an `improvement` the other way round; `within noise` when both intervals hold
1; else `changed, within tolerance`. Models are matched by name and scenario, targets by name; a
current model the baseline lacks is an error (ValueError): compare runs of the same setup.
"""

from __future__ import annotations

from . import bootstrap, sweep


def target_data(model: dict, target: dict) -> bootstrap.Data:
    rounds = [r for r in target.get("rounds") or [] if r.get("status") == "ok"]
    if model["settings"].get("scenario") == "sweep":
        chosen = ((model.get("sweep") or {}).get(target["name"]) or {}).get("slo_step")
        return sweep.step_data(rounds, chosen)
    return bootstrap.Data.from_records([r.get("seconds") for r in rounds])


def judge(r: dict, tolerance: float) -> str:
    rps, p99 = r["rps"], r["p99_ms"]
    if rps["ratio"] is None:
        return "not measured"
    if rps["high"] < 1 - tolerance or (p99["low"] is not None and p99["low"] > 1 + tolerance):
        return "regression"
    if rps["low"] > 1 + tolerance or (p99["high"] is not None and p99["high"] < 1 - tolerance):
        return "improvement"
    if rps["low"] <= 1 <= rps["high"] and (p99["low"] is None or p99["low"] <= 1 <= p99["high"]):
        return "within noise"
    return "changed, within tolerance"


def _key(m: dict) -> tuple[str, str]:
    return m["model"], str(m["settings"].get("scenario"))


def compare_reports(baseline: dict, current: dict, *, tolerance: float = 0.05) -> dict:
    if not 0 <= tolerance < 1:
        raise ValueError(f"--tolerance must be a fraction in [0, 1), got {tolerance}")
    base = {_key(m): m for m in baseline["models"]}
    missing = [f"{k[0]} ({k[1]})" for k in map(_key, current["models"]) if k not in base]
    if missing:
        have = ", ".join(f"{k[0]} ({k[1]})" for k in base) or "none"
        raise ValueError(f"the baseline has no result for {', '.join(missing)} (it has: {have}); compare two "
                         "runs of the same models and scenario")
    rows = []
    for m in current["models"]:
        b_model = base[_key(m)]
        b_targets = {t["name"]: t for t in b_model["targets"]}
        for t in m["targets"]:
            if t["name"] not in b_targets:
                rows.append({"model": m["model"], "target": t["name"], "verdict": "new target, not compared",
                             "line": f"{m['model']} {t['name']}: not in the baseline"})
                continue
            r = bootstrap.ratio(target_data(b_model, b_targets[t["name"]]), target_data(m, t)) \
                if target_data(m, t) and target_data(b_model, b_targets[t["name"]]) else \
                {k: {"ratio": None, "low": None, "high": None} for k in ("rps", "p50_ms", "p99_ms")}
            verdict = judge(r, tolerance)
            rows.append({"model": m["model"], "target": t["name"], **r, "verdict": verdict,
                         "line": _line(m["model"], t["name"], r, verdict)})
    rounds = min((m["settings"].get("rounds", 1) for m in current["models"]), default=1)
    return {"tolerance": tolerance, "method": bootstrap.method(rounds), "rows": rows,
            "regressions": [row["line"] for row in rows if row["verdict"] == "regression"]}


def _line(model: str, target: str, r: dict, verdict: str) -> str:
    rps, p99 = r["rps"], r["p99_ms"]
    if rps["ratio"] is None:
        return f"{model} {target}: not measured"
    text = (f"{model} {target}: req/s {(rps['ratio'] - 1) * 100:+.1f} % [{(rps['low'] - 1) * 100:+.1f}, "
            f"{(rps['high'] - 1) * 100:+.1f}]")
    if p99["ratio"] is not None:
        text += (f", p99 {(p99['ratio'] - 1) * 100:+.1f} % [{(p99['low'] - 1) * 100:+.1f}, "
                 f"{(p99['high'] - 1) * 100:+.1f}]")
    return f"{text}: {verdict}"


def render(result: dict) -> str:
    lines = [row["line"] for row in result["rows"]]
    lines.append(f"\n{len(result['regressions'])} regression(s) beyond {result['tolerance']:.0%}; "
                 f"method: {result['method']}")
    return "\n".join(lines)
