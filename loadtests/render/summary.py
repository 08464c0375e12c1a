"""The summary of a report: one row per model and target, as text for terminals and as rows for
the Markdown and HTML renderers."""

from __future__ import annotations


def _fmt(value, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def gpu_cell(target: dict) -> str:
    """GPU utilisation in words for a summary: the mean %, or "no GPU"."""
    gpu = (target.get("resources") or {}).get("gpu") or {}
    if not gpu.get("available"):
        return "no GPU"
    cells = []
    for d in gpu["devices"]:
        own = d.get("process_util_percent", {}).get("mean")
        util = d.get("util_percent", {}).get("mean")
        cells.append(f"{_fmt(util)} %" + (f" (own {_fmt(own)} %)" if own is not None else ""))
    return ", ".join(cells)


def behaviour_cell(behaviour: dict | None) -> str:
    """Behaviour parity in a few words: `pass (38/38)`, the verdict and how many of the bad requests
    got the same status on both sides; `not run` without it."""
    if not behaviour:
        return "not run"
    counts = behaviour.get("counts") or {}
    if behaviour.get("verdict") == "error" or not counts.get("cases"):
        return str(behaviour.get("verdict") or "error")
    return f"{behaviour['verdict']} ({counts['same_status']}/{counts['cases']})"


def _sides(section: dict | None) -> set[str]:
    """The addresses a parity document compared (its sides A and B)."""
    return {str((section or {}).get(k, {}).get("url", "")).removeprefix("grpc://") for k in ("a", "b")} - {""}


def _compared(section: dict | None, target: dict, targets: list[dict]) -> bool:
    """Whether a parity result speaks for this target: it was side A or B (when the sides are not
    among the targets' addresses, e.g. named differently, it is shown for every target)."""
    sides = _sides(section)
    return not sides & {t.get("address") for t in targets} or target.get("address") in sides


def summary_rows(report: dict) -> list[dict]:
    """Per model and target: parity and behaviour verdicts (for the two targets they compared;
    "-" for the others), req/s, p50/p99 (medians over rounds), CPU %, GPU %, status."""
    rows = []
    for m in report["models"]:
        curves = m.get("sweep") or {}
        for t in m["targets"]:
            latency = t.get("latency_ms") or {}
            cpu = ((t.get("resources") or {}).get("cpu_percent") or {}).get("mean")
            slo = (curves.get(t["name"]) or {}).get("slo_step")
            parity = (m.get("parity") or {}).get("verdict", "not run")
            behaviour = behaviour_cell(m.get("behaviour"))
            parity = parity if _compared(m.get("parity"), t, m["targets"]) else "-"
            behaviour = behaviour if _compared(m.get("behaviour"), t, m["targets"]) else "-"
            rows.append({"model": m["model"], "scenario": m["settings"].get("scenario"), "target": t["name"],
                         "rounds": m["settings"].get("rounds", 1), "parity": parity, "behaviour": behaviour,
                         "rps": slo["rps"] if slo else (t.get("requests") or {}).get("rps"),
                         "p50_ms": slo["p50_ms"] if slo else latency.get("p50"),
                         "p99_ms": slo["p99_ms"] if slo else latency.get("p99"),
                         "cpu": "-" if cpu is None else f"{cpu:.0f} %", "gpu": gpu_cell(t),
                         "client_bound": bool((t.get("client") or {}).get("bound")),
                         "status": t.get("status"), "message": t.get("message")})
    return rows


def verdict_lines(report: dict) -> list[str]:
    return [f"{m['model']} ({m['settings'].get('scenario')}): {v['line']}"
            for m in report["models"] for v in m.get("verdicts") or []]


def summary_table(report: dict) -> str:
    """The summary as an aligned text table, then the verdicts, for terminals. A sweep's row shows
    its reported step (the highest throughput under the SLO)."""
    header = ("model", "scenario", "target", "parity", "behaviour", "req/s", "p50 ms", "p99 ms", "CPU %", "GPU %",
              "status")
    lines = [header]
    for r in summary_rows(report):
        lines.append((r["model"], r["scenario"], r["target"], r["parity"], r["behaviour"], _fmt(r["rps"]),
                      _fmt(r["p50_ms"], ".2f"), _fmt(r["p99_ms"], ".2f"), r["cpu"], r["gpu"],
                      r["status"] + (" (client-bound?)" if r["client_bound"] else "")))
    widths = [max(len(str(row[i])) for row in lines) for i in range(len(header))]
    table = "\n".join("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip() for row in lines)
    verdicts = verdict_lines(report)
    return table + ("\n\n" + "\n".join(verdicts) if verdicts else "")
