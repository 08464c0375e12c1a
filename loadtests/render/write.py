"""A report's files: writing report.json, report.md and report.html side by side, and reading the
JSON files a report is built from (`read_json`: one wording for every unreadable file)."""

from __future__ import annotations

import json
from pathlib import Path

from .html import render_html
from .markdown import render_markdown


def read_json(path: Path, label: str = ""):
    """The JSON in `path`; ValueError naming `label` (e.g. "parity file ") and the path when the file
    cannot be read or is not JSON."""
    try:
        return json.loads(path.read_text())
    except OSError as e:
        raise ValueError(f"{label}{path}: cannot read it ({e.strerror})") from None
    except ValueError as e:
        raise ValueError(f"{label}{path} is not JSON: {e}") from None


def _plain(value) -> bool:
    """A list holding no object, at any depth (a series, a CDF of [x, y] pairs)."""
    return not any(isinstance(v, dict) or (isinstance(v, (list, tuple)) and not _plain(v)) for v in value)


def to_json(value, indent: int = 1, _depth: int = 0) -> str:
    """JSON with one object key a line and every list without objects on one line: as readable as
    `json.dumps(indent=1)` and a third of its size (a report holds long series of numbers)."""
    pad, inner = " " * indent * _depth, " " * indent * (_depth + 1)
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(str(k))}: {to_json(v, indent, _depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, (list, tuple)) and not _plain(value):
        return "[\n" + ",\n".join(inner + to_json(v, indent, _depth + 1) for v in value) + f"\n{pad}]"
    return json.dumps(value, separators=(", ", ": "))


def write(report: dict, out_dir: str | Path) -> dict[str, Path]:
    """The three files in `out_dir` (each replaced atomically); their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "md": out / "report.md", "html": out / "report.html"}
    texts = {"json": to_json(report) + "\n", "md": render_markdown(report), "html": render_html(report)}
    for key, path in paths.items():
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(texts[key], encoding="utf-8")
        tmp.replace(path)
    return paths
