"""report.md: the report's tables in Markdown (the plots are in report.html)."""

from __future__ import annotations

from . import tables
from .summary import summary_rows


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out + [""]


def render_markdown(report: dict) -> str:
    machine = report.get("machine") or {}
    gpus = machine.get("gpus")
    lines = ["# Tandem load-test report", "",
             f"Generated {report.get('generated_at', '?')} on {machine.get('platform', '?')}, "
             f"{machine.get('cpu_count', '?')} CPUs, "
             f"{', '.join(gpus) if isinstance(gpus, list) else gpus or 'GPU unknown'}. "
             "Figures exclude the warm-up; req/s and latencies are medians over rounds of exact per-request "
             "figures.", ""]
    verdicts = [f"- **{m['model']}** ({m['settings'].get('scenario')}): {v['line']}"
                for m in report["models"] for v in m.get("verdicts") or []]
    if verdicts:
        methods = sorted({m.get("method") for m in report["models"] if m.get("method")})
        lines += ["## Verdicts", "", *verdicts, "", *[f"Method: {x}." for x in methods], ""]
    lines += ["## Summary", ""]
    rows = [[r["model"], r["scenario"], r["target"], str(r["rounds"]), r["parity"], r["behaviour"],
             tables.num(r["rps"]), tables.num(r["p50_ms"], ".2f"), tables.num(r["p99_ms"], ".2f"), r["cpu"], r["gpu"],
             r["status"] + (" (client-bound?)" if r["client_bound"] else "")]
            for r in summary_rows(report)]
    lines += _table(["model", "scenario", "target", "rounds", "parity", "behaviour", "req/s", "p50 ms", "p99 ms",
                     "CPU %", "GPU %", "status"], rows)
    if any(m.get("parity") or m.get("behaviour") for m in report["models"]):
        lines += [tables.SUMMARY_NOTE, ""]
    for m in report["models"]:
        lines += [f"## {m['model']} ({m['settings'].get('scenario')})", ""]
        if not m.get("complete", True):
            for s in m["targets"]:
                if s.get("status") != "ok":
                    lines += [f"> **{s['name']}: {s['status']}** - {s.get('message') or ''}", ""]
        lines += [f"Inputs: {m.get('inputs') or m['settings'].get('inputs')}", ""]
        lines += _table(["setting", "value"], [list(r) for r in tables.settings_rows(m["settings"])])
        if m.get("verdicts"):
            lines += _table(tables.VERDICT_COLUMNS, tables.verdict_rows(m))
        sweep_rows = tables.sweep_rows(m)
        if sweep_rows:
            lines += ["### Sweep", ""] + _table(tables.SWEEP_COLUMNS, sweep_rows)
        names, figures = tables.figure_rows(m["targets"])
        lines += _table(["figure", *names], [[label, *cells] for label, cells in figures])
        header, st_rows = tables.server_time_rows(m["targets"])
        lines += ["### Where the server's time goes (per request)", "", tables.SERVER_TIME_NOTE, ""]
        lines += _table(header, st_rows)
        lines += ["### Rounds", ""] + _table(tables.ROUND_COLUMNS, tables.round_rows(m["targets"]))
        errors = tables.error_rows(m["targets"])
        if errors:
            lines += ["### Errors", ""] + _table(["target", "kind", "count", "example"], [list(e) for e in errors])
        for s in m["targets"]:
            ramp_rows = tables.ramp_rows(s)
            if ramp_rows:
                ramp = s["ramp"]
                lines += [f"### Ramp: {s['name']}", "", f"Stopped: {ramp.get('stop_reason')}.", ""]
                lines += _table(tables.RAMP_COLUMNS, ramp_rows)
        parity = m.get("parity")
        if parity:
            lines += [f"### Parity: {parity.get('verdict', 'unknown').upper()}", ""]
            lines += [f"- {line}" for line in tables.parity_lines(parity, m["targets"])] + [""]
            header, rows = tables.parity_rows(parity)
            if rows:
                lines += _table(header, rows)
        behaviour = m.get("behaviour")
        if behaviour:
            lines += [f"### Behaviour parity: {behaviour.get('verdict', 'unknown').upper()}", ""]
            lines += [f"- {line}" for line in tables.behaviour_lines(behaviour, m["targets"])] + [""]
            header, rows = tables.behaviour_rows(behaviour, m["targets"])
            if rows:
                lines += _table(header, rows)
    return "\n".join(lines).rstrip() + "\n"
