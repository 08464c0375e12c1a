"""The report's tables as plain rows of text, shared by the Markdown and HTML renderers."""

from __future__ import annotations

from collections.abc import Sequence

from .summary import gpu_cell


def num(value, spec: str = ".1f", unit: str = "") -> str:
    if value is None:
        return "-"
    return f"{format(value, spec)}{unit}"


def _stat(d: dict | None, spec=".1f", unit="") -> str:
    d = d or {}
    if d.get("mean") is None:
        return "-"
    return f"{num(d['mean'], spec)} / {num(d['max'], spec)}{unit}"


def settings_rows(settings: dict) -> list[tuple[str, str]]:
    return [(k.replace("_", " "), str(v)) for k, v in settings.items()]


def figure_rows(targets: list[dict]) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """(target names, [(figure, [value per target])]): medians over rounds, sums of counts."""
    names = [s["name"] for s in targets]

    def row(label, fn):
        out = []
        for s in targets:
            try:
                out.append(fn(s))
            except (KeyError, TypeError):
                out.append("-")
        return label, out

    lat = lambda s, k: num((s.get("latency_ms") or {}).get(k), ".3f")  # noqa: E731
    rows = [
        row("status", lambda s: s["status"] + (f": {s['message']}" if s.get("message") else "")),
        row("measured", lambda s: num(s["duration_s"], ".1f", " s")),
        row("requests (ok / failed)", lambda s: f"{s['requests']['ok']} / {s['requests']['failed']}"),
        row("error rate", lambda s: num(s["requests"]["error_rate"] * 100, ".2f", " %")),
        row("URL", lambda s: s["url"]),
        row("rounds (median round)", lambda s: f"{len(s['rounds'])} ({s.get('median_round')})"),
        row("throughput, req/s", lambda s: num(s["requests"]["rps"], ".1f")),
        row("inferences/s", lambda s: num(s["requests"]["inferences_per_s"], ".1f")),
        *[row(f"latency {k}, ms", lambda s, k=k: lat(s, k))
          for k in ("min", "mean", "p50", "p90", "p99", "p99_9", "max")],
        row("answers checked (passed / failed)",
            lambda s: f"{s['checks']['sampled']} ({s['checks']['passed']} / {s['checks']['failed']})"),
        row("checked against", lambda s: s.get("reference") or "-"),
        row("CPU % mean / max", lambda s: _stat(s["resources"]["cpu_percent"], ".0f", " %")),
        row("RSS MB mean / max", lambda s: _stat(s["resources"]["rss_mb"], ".0f", " MB")),
        row("GPU utilisation", lambda s: gpu_cell(s)),
        row("GPU memory MB mean / max", lambda s: ", ".join(
            _stat(d["memory_used_mb"], ".0f", f" of {d['memory_total_mb']:.0f} MB")
            for d in s["resources"]["gpu"]["devices"]) if s["resources"]["gpu"].get("available") else "no GPU"),
        row("GPU power W mean / max", lambda s: ", ".join(
            _stat(d["power_w"], ".0f", " W") for d in s["resources"]["gpu"]["devices"])
            if s["resources"]["gpu"].get("available") else "no GPU"),
        row("load generator CPU % mean / max", lambda s: _stat(s["client"]["cpu_percent"], ".0f", " %")
            + (" - above 90 % of a core: the client may be the limit" if s["client"]["bound"] else "")),
        row("process sampled", lambda s: (f"{s['resources']['process']['name']} (pid "
                                          f"{s['resources']['process']['pid']})")
            if s["resources"].get("process") else "none"),
    ]
    return names, rows


def error_rows(targets: list[dict]) -> list[tuple[str, str, str, str]]:
    """(service, kind, count, example)."""
    out = []
    for s in targets:
        for e in s.get("errors") or []:
            example = (e.get("examples") or [""])[0]
            out.append((s["name"], e["kind"], str(e["count"]), example))
    return out


def parity_rows(parity: dict) -> tuple[list[str], list[list[str]]]:
    columns = parity.get("columns") or []
    rows = []
    for r in parity.get("rows") or []:
        cells = []
        for c in columns:
            v = r.get(c)
            if isinstance(v, bool):
                cells.append("yes" if v else "NO")
            elif isinstance(v, float):
                cells.append(f"{v:.6f}" if "cosine" in c else f"{v:.3e}")
            else:
                cells.append("-" if v is None else str(v))
        rows.append(cells)
    return [c.replace("_", " ") for c in columns], rows


def parity_lines(parity: dict, targets: Sequence[dict] = ()) -> list[str]:
    """Sentences about a parity result: sides (named after the targets at their addresses),
    tolerance, classification, failures, notes."""
    names = _side_names(targets)
    lines = []
    for key in ("a", "b"):
        side = parity.get(key) or {}
        if side:
            url = str(side.get("url", "?")).removeprefix("grpc://")
            who = f" ({names[url]})" if url in names else ""
            acc = side.get("accuracy")
            lines.append(f"{key.upper()}{who}: {url}" + (f", accuracy {acc:.2%}" if acc is not None else ""))
    tol = parity.get("tolerance") or {}
    if tol:
        lines.append("tolerance: " + ", ".join(f"{k}={v}" for k, v in tol.items() if v is not None))
    c = parity.get("classification") or {}
    if c.get("top1_agreement") is not None:
        lines.append(f"top-1 agreement on '{c.get('output')}': {c['top1_agreement']:.2%} "
                     f"of {c.get('samples')} samples")
    if parity.get("error"):
        lines.append(f"error: {parity['error']}")
    lines += [f"failure: {f}" for f in parity.get("failures") or []]
    lines += [f"note: {n}" for n in parity.get("notes") or []]
    return lines


def _side_names(targets: Sequence[dict]) -> dict[str, str]:
    return {str(s.get("address")): s["name"] for s in targets}


def _side_label(side: dict | None, key: str, names: dict[str, str]) -> str:
    url = str((side or {}).get("url", "")).removeprefix("grpc://")
    return names.get(url) or key.upper()


def behaviour_lines(behaviour: dict, targets: Sequence[dict] = ()) -> list[str]:
    """Sentences about a behaviour parity result: the sides (named after the targets at their
    addresses), the counts, the error or the failed cases."""
    names = _side_names(targets)
    lines = []
    for key in ("a", "b"):
        side = behaviour.get(key) or {}
        if side:
            url = str(side.get("url", "?")).removeprefix("grpc://")
            lines.append(f"{key.upper()}{f' ({names[url]})' if url in names else ''}: {url}")
    c = behaviour.get("counts") or {}
    if c.get("cases"):
        lines.append(f"{c['cases']} cases: {c['same_status']} with the same status on both sides, "
                     f"{c['different_status']} with a different one; {c['same_message']} with the same message; "
                     f"{c['internal']} INTERNAL/UNKNOWN answers; {c['failed']} failed")
    if behaviour.get("error"):
        lines.append(f"error: {behaviour['error']}")
    lines += [f"failure: {f}" for f in behaviour.get("failures") or []]
    return lines


def behaviour_rows(behaviour: dict, targets: Sequence[dict] = (),
                   width: int | None = 90) -> tuple[list[str], list[list[str]]]:
    """(header, one row per case): the status on each side, whether they agree, the message(s)."""
    names = _side_names(targets)
    a, b = _side_label(behaviour.get("a"), "a", names), _side_label(behaviour.get("b"), "b", names)

    def short(text: str) -> str:
        text = " ".join(text.split())
        return text if width is None or len(text) <= width else text[:width - 3] + "..."

    rows = []
    for c in behaviour.get("cases") or []:
        same = "yes" if c["same_message"] else ("status only" if c["same_status"] else "NO")
        if c["same_message"]:
            message = short(c["a"]["message"])
        else:  # each side's own words, naming the side (an OK has none)
            message = " | ".join(f"{who}: {short(said)}" for who, said in ((a, c["a"]["message"]),
                                                                            (b, c["b"]["message"])) if said)
        rows.append([c["name"], c["family"], c["expect"], c["a"]["code"], c["b"]["code"], same, message,
                     c.get("failure") or ""])
    return ["case", "family", "expected", a, b, "same", "message", "failure"], rows


def ramp_rows(service: dict) -> list[list[str]]:
    steps = (service.get("ramp") or {}).get("steps") or []
    return [[str(st["users"]), num(st["rps"], ".1f"), num(st["p50_ms"], ".2f"), num(st["p99_ms"], ".2f"),
             num(st["error_rate"] * 100, ".2f", " %"),
             st["verdict"] + (f" ({st['reason']})" if st.get("reason") else "")]
            for st in steps]


RAMP_COLUMNS = ["users", "req/s", "p50 ms", "p99 ms", "errors", "verdict"]


def verdict_rows(model: dict) -> list[list[str]]:
    def interval(i, pct=False):
        if i["ratio"] is None:
            return "-"
        if pct:
            return f"{(i['ratio'] - 1) * 100:+.0f} % [{(i['low'] - 1) * 100:+.0f}, {(i['high'] - 1) * 100:+.0f}]"
        return f"{i['ratio']:.2f}x [{i['low']:.2f}, {i['high']:.2f}]"
    return [[f"{v['b']} vs {v['a']}", interval(v["rps"]), interval(v["p50_ms"], True), interval(v["p99_ms"], True),
             v["verdict"]] for v in model.get("verdicts") or []]


VERDICT_COLUMNS = ["pair", "req/s ratio [95 % CI]", "p50 change", "p99 change", "verdict"]


def round_rows(targets: list[dict]) -> list[list[str]]:
    rows = []
    for t in targets:
        for r in t.get("rounds") or []:
            lat = r.get("latency_ms") or {}
            rows.append([t["name"], str(r.get("round")), r.get("status") or "-",
                         num((r.get("requests") or {}).get("rps")), num(lat.get("p50"), ".2f"),
                         num(lat.get("p99"), ".2f"), str((r.get("requests") or {}).get("failed", "-"))])
    return rows


ROUND_COLUMNS = ["target", "round", "status", "req/s", "p50 ms", "p99 ms", "errors"]


def server_time_rows(targets: list[dict]) -> tuple[list[str], list[list[str]]]:
    """Per target: per-request queue / input / infer / output ms, batch sizes, settings; or why not."""
    rows = []
    for t in targets:
        st = t.get("server_time")
        if not st:
            why = ("the server does not answer ModelStatistics" if t.get("reports_server_time", t.get("kind") == "grpc")
                   else f"{t.get('kind')}:// reports no server statistics")
            rows.append([t["name"], *["-"] * 6, f"client-side latency only: {why}"])
            continue
        sizes = ", ".join(f"{k}: {v}" for k, v in (st.get("batch_sizes") or {}).items()) or "-"
        rows.append([t["name"], num(st.get("queue_ms"), ".3f"), num(st.get("compute_input_ms"), ".3f"),
                     num(st.get("compute_infer_ms"), ".3f"), num(st.get("compute_output_ms"), ".3f"),
                     num(st.get("success_ms"), ".3f"), sizes, model_config_text(t.get("model_config"))])
    return SERVER_TIME_COLUMNS, rows


def model_config_text(cfg: dict | None) -> str:
    """A model's batching and instance settings (ModelConfig as JSON) in words, e.g. `max batch 32;
    dynamic batching: preferred 32, queue delay 2000 us; 1 instance (KIND_MODEL)`."""
    if not cfg:
        return "-"
    parts = []
    if "max_batch_size" in cfg:
        parts.append(f"max batch {cfg['max_batch_size']}")
    batching = cfg.get("dynamic_batching")
    if isinstance(batching, dict):
        preferred = ", ".join(str(b) for b in batching.get("preferred_batch_size") or [])
        delay = batching.get("max_queue_delay_microseconds")
        parts.append("dynamic batching" + (f": preferred {preferred}" if preferred else "")
                     + (f", queue delay {delay} us" if delay is not None else ""))
    for group in cfg.get("instance_group") or []:
        count = group.get("count", 1)
        parts.append(f"{count} instance{'s' if str(count) != '1' else ''} ({group.get('kind', '?')})")
    known = {"name", "input", "output", "platform", "backend", "max_batch_size", "dynamic_batching", "instance_group"}
    parts += [f"{k} {v}" for k, v in cfg.items() if k not in known]
    return "; ".join(parts)[:300] or "-"


SERVER_TIME_NOTE = ("Averages per request over each measured window, from the server's own statistics "
                    "(ModelStatistics): queue, then the model's input / inference / output; server total is "
                    "arrival to answer inside the server (decoding and encoding included). The rest of the "
                    "client's latency is the network, the protocol and the client.")
SUMMARY_NOTE = ("parity and behaviour: the verdicts of the two targets they compared (numbers for good inputs; "
                "statuses for bad requests), '-' for a target that was not one of them.")

SERVER_TIME_COLUMNS = ["target", "queue ms", "input ms", "infer ms", "output ms", "server total ms",
                       "batch sizes (executions)", "settings (ModelConfig)"]


def sweep_rows(model: dict) -> list[list[str]]:
    rows = []
    for name, curve in (model.get("sweep") or {}).items():
        chosen = (curve.get("slo_step") or {}).get("step")
        for st in curve["steps"]:
            rows.append([name, str(st["users"]), num(st["rps"]), num(st["p50_ms"], ".2f"), num(st["p99_ms"], ".2f"),
                         "<- reported" if st["step"] == chosen else ""])
    return rows


SWEEP_COLUMNS = ["target", "users", "req/s", "p50 ms", "p99 ms", ""]
