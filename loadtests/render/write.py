"""Writing a report: report.json, report.md and report.html side by side."""

from __future__ import annotations

import json
from pathlib import Path

from .html import render_html
from .markdown import render_markdown


def write(report: dict, out_dir: str | Path) -> dict[str, Path]:
    """The three files in `out_dir` (each replaced atomically); their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "md": out / "report.md", "html": out / "report.html"}
    texts = {"json": json.dumps(report, indent=1), "md": render_markdown(report), "html": render_html(report)}
    for key, path in paths.items():
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(texts[key], encoding="utf-8")
        tmp.replace(path)
    return paths
