"""report.html: one self-contained page (inline CSS and SVG plots, no script, no external file)."""

from __future__ import annotations

from html import escape

from . import charts, tables
from .summary import summary_rows

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1400px;
color:#222;padding:0 16px}
h1{margin-bottom:4px}h2{margin-top:40px;border-bottom:2px solid #ddd;padding-bottom:4px}
.meta{color:#555;margin-top:0}
table{border-collapse:collapse;margin:8px 0 16px;font-size:14px}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:12px}
.chart{border:1px solid #e3e3e3;border-radius:4px;background:#fff;width:100%;height:auto}
.chart .grid{stroke:#eee}.chart .axis{stroke:#888}
.chart text{font-size:11px;fill:#444}.chart .chart-title{font-size:13px;font-weight:600;fill:#222}
.chart .label{font-size:12px}.chart .value{font-size:10px;fill:#333}.chart .empty{font-size:13px;fill:#888}
.status-ok{color:#1b7f3b}.status-died,.status-failed{color:#b3261e;font-weight:600}.status-skipped{color:#8a6d00}
.verdict-pass{color:#1b7f3b;font-weight:600}.verdict-fail,.verdict-error{color:#b3261e;font-weight:600}
.alert{border-left:4px solid #b3261e;background:#fdf0ef;padding:8px 12px;margin:8px 0}
.verdicts li{margin:4px 0;font-size:15px}.sig{color:#0b3d91;font-weight:600}.noise{color:#555}
.note{border-left:4px solid #888;background:#f6f6f6;padding:8px 12px;margin:8px 0}
pre{background:#f6f6f6;padding:8px;overflow:auto;font-size:12px}
"""


def _table(header, rows, numeric_from: int = 99, text_from: int = 99) -> str:
    """Columns numeric_from..text_from-1 are right-aligned numbers."""
    out = ["<table><thead><tr>", *[f"<th>{escape(str(h))}</th>" for h in header], "</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>")
        for i, cell in enumerate(row):
            html = cell if isinstance(cell, _Raw) else escape(str(cell))
            out.append(f'<td class="num">{html}</td>' if numeric_from <= i < text_from else f"<td>{html}</td>")
        out.append("</tr>")
    return "".join(out) + "</tbody></table>"


class _Raw(str):
    """Cell text that is already HTML."""


def _status(status: str | None) -> _Raw:
    return _Raw(f'<span class="status-{escape(str(status))}">{escape(str(status))}</span>')


def _verdict(verdict: str, text: str | None = None) -> _Raw:
    return _Raw(f'<span class="verdict-{escape(verdict)}">{escape(verdict if text is None else text)}</span>')


def _summary(report: dict) -> str:
    rows = [[r["model"], r["scenario"], r["target"], str(r["rounds"]), _verdict(r["parity"]),
             _verdict(r["behaviour"].split(" ")[0], r["behaviour"]), tables.num(r["rps"]),
             tables.num(r["p50_ms"], ".2f"), tables.num(r["p99_ms"], ".2f"), r["cpu"], r["gpu"], _status(r["status"])]
            for r in summary_rows(report)]
    return _table(["model", "scenario", "target", "rounds", "parity", "behaviour", "req/s", "p50 ms", "p99 ms",
                   "CPU %", "GPU %", "status"], rows, numeric_from=6)


def _verdicts(report: dict) -> str:
    items = []
    for m in report["models"]:
        for v in m.get("verdicts") or []:
            cls = "sig" if v["significant"] else "noise"
            items.append(f'<li><b>{escape(m["model"])}</b> ({escape(str(m["settings"].get("scenario")))}): '
                         f'<span class="{cls}">{escape(v["line"])}</span></li>')
    if not items:
        return ""
    methods = sorted({m.get("method") for m in report["models"] if m.get("method")})
    return ('<h2>Verdicts</h2><ul class="verdicts">' + "".join(items) + "</ul>"
            + "".join(f'<p class="meta">Method: {escape(x)}.</p>' for x in methods))


def _parity(parity: dict, targets: list[dict]) -> str:
    out = [f"<h3>Parity: {_verdict(parity.get('verdict', 'unknown'))}</h3>"]
    lines = tables.parity_lines(parity, targets)
    if lines:
        out.append("<ul>" + "".join(f"<li>{escape(line)}</li>" for line in lines) + "</ul>")
    header, rows = tables.parity_rows(parity)
    if rows:
        out.append(_table(header, rows, numeric_from=2))
    out.append(f'<p class="meta">from {escape(str(parity.get("source", "")))}</p>')
    return "".join(out)


def _behaviour(behaviour: dict, targets: list[dict]) -> str:
    """Behaviour parity: the counts, then the table of cases (folded when every case passed)."""
    verdict = behaviour.get("verdict", "unknown")
    out = [f"<h3>Behaviour parity (bad requests): {_verdict(verdict)}</h3>"]
    lines = tables.behaviour_lines(behaviour, targets)
    if lines:
        out.append("<ul>" + "".join(f"<li>{escape(line)}</li>" for line in lines) + "</ul>")
    header, rows = tables.behaviour_rows(behaviour, targets, width=None)
    if rows:
        marked = [[*row[:5], _Raw(f'<span class="verdict-{"pass" if row[5] != "NO" else "fail"}">'
                                  f"{escape(row[5])}</span>"), *row[6:]] for row in rows]
        out.append(f"<details{'' if verdict == 'pass' else ' open'}><summary>the {len(rows)} cases, status and "
                   f"message on each side</summary>{_table(header, marked)}</details>")
    out.append(f'<p class="meta">from {escape(str(behaviour.get("source", "")))}</p>')
    return "".join(out)


def _model(m: dict, index: int) -> str:
    targets = m["targets"]
    out = [f'<h2 id="model-{index}">{escape(m["model"])} <small>({escape(str(m["settings"].get("scenario")))})'
           "</small></h2>"]
    for s in targets:
        if s.get("status") != "ok":
            out.append(f'<div class="alert"><b>{escape(s["name"])}: {escape(str(s.get("status")))}</b> - '
                       f'{escape(s.get("message") or "")}</div>')
            if s.get("log_tail"):
                out.append(f"<pre>{escape(s['log_tail'])}</pre>")
    for t in targets:
        if (t.get("client") or {}).get("bound"):
            out.append(f'<div class="alert"><b>{escape(t["name"])}</b>: the load generator used more than 90 % '
                       "of a core: the client, not the server, may have been the limit.</div>")
    if m.get("verdicts"):
        out.append(_table(tables.VERDICT_COLUMNS, tables.verdict_rows(m), 1, text_from=4))
    reason = charts.no_gpu_reason(targets)
    if reason:
        out.append(f'<div class="note">{escape(reason)}: GPU figures are not shown.</div>')
    out.append(f"<p>Inputs: {escape(str(m.get('inputs') or m['settings'].get('inputs')))}</p>")
    out.append('<div class="charts">' + "".join(charts.all_charts(targets, m.get("sweep"))) + "</div>")
    sweep_rows = tables.sweep_rows(m)
    if sweep_rows:
        slo = m["settings"].get("slo_p99_ms")
        out.append("<h3>Sweep: throughput and latency per concurrency step</h3>"
                   f"<p>Reported: the highest throughput {'with p99 under ' + str(slo) + ' ms' if slo else ''}"
                   " (medians over rounds).</p>" + _table(tables.SWEEP_COLUMNS, sweep_rows, 1))
    header, st_rows = tables.server_time_rows(targets)
    out.append("<h3>Where the server's time goes (per request, measured window)</h3>"
               f'<p class="meta">{escape(tables.SERVER_TIME_NOTE)}</p>' + _table(header, st_rows, 1, text_from=6))
    out.append("<h3>Rounds</h3>" + _table(tables.ROUND_COLUMNS, tables.round_rows(targets), 3))
    names, figures = tables.figure_rows(targets)
    out.append("<h3>Figures</h3>" + _table(["figure", *names], [[label, *cells] for label, cells in figures], 1))
    errors = tables.error_rows(targets)
    if errors:
        out.append("<h3>Errors</h3>" + _table(["target", "kind", "count", "example"], errors))
    for s in targets:
        rows = tables.ramp_rows(s)
        if rows:
            out.append(f"<h3>Ramp: {escape(s['name'])}</h3><p>Stopped: {escape(str(s['ramp'].get('stop_reason')))}"
                       "</p>" + _table(tables.RAMP_COLUMNS, rows, 1))
    if m.get("parity"):
        out.append(_parity(m["parity"], targets))
    if m.get("behaviour"):
        out.append(_behaviour(m["behaviour"], targets))
    out.append("<h3>Settings (identical for every target)</h3>"
               + _table(["setting", "value"], tables.settings_rows(m["settings"])))
    return "".join(out)


def render_html(report: dict) -> str:
    machine = report.get("machine") or {}
    gpus = machine.get("gpus")
    gpu_text = ", ".join(gpus) if isinstance(gpus, list) else str(gpus or "GPU unknown")
    toc = " | ".join(f'<a href="#model-{i}">{escape(m["model"])} ({escape(str(m["settings"].get("scenario")))})</a>'
                     for i, m in enumerate(report["models"]))
    body = [
        "<h1>Tandem load-test report</h1>",
        f'<p class="meta">Generated {escape(str(report.get("generated_at")))} on '
        f'{escape(str(machine.get("platform", "?")))}, {escape(str(machine.get("cpu_count", "?")))} CPUs, '
        f"{escape(gpu_text)}. Figures exclude the warm-up; req/s and latencies are medians over rounds of "
        "exact per-request figures; CPU % counts 100 % per busy core.</p>",
        f"<p>{toc}</p>", _verdicts(report), "<h2>Summary</h2>", _summary(report),
        f'<p class="meta">{escape(tables.SUMMARY_NOTE)}</p>'
        if any(m.get("parity") or m.get("behaviour") for m in report["models"]) else "",
        *[_model(m, i) for i, m in enumerate(report["models"])],
    ]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>Tandem load-test report</title><style>{CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")
