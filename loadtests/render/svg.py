"""Small charts drawn as inline SVG (no plotting library): lines over time or a log axis, and
grouped bars. Each function returns one `<svg>` element as text."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 660, 280
MARGIN = {"left": 64, "right": 16, "top": 46, "bottom": 46}
PALETTE = ("#e4572e", "#2e86ab", "#76b041", "#9d44b5", "#f1a208", "#5c5c5c")


@dataclass
class Series:
    label: str
    xs: Sequence[float]
    ys: Sequence[float | None]  # None leaves a gap
    color: str = PALETTE[0]
    dashed: bool = False


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 10000:
        return f"{v / 1000:.0f}k"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 1:
        return f"{v:.3g}"
    return f"{v:.2g}"


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 5 x 10^n steps) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.floor(lo / step) * step
    ticks, v = [], first
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 10))
        v += step
    if ticks[-1] < hi:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def log_ticks(lo: float, hi: float) -> list[float]:
    """Tick values inside [lo, hi] for a log axis: 1-2-5 per decade, denser when the range spans
    less than that, or round linear steps when it spans only a few percent."""
    lo = max(lo, 1e-9)
    hi = max(hi, lo * 1.001)
    for mantissas in ((1, 2, 5), (1, 1.5, 2, 3, 4, 5, 6, 7, 8, 9)):
        ticks = [m * 10 ** e for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
                 for m in mantissas if lo <= m * 10 ** e <= hi]
        if len(ticks) >= 3:
            return ticks
    inside = [v for v in nice_ticks(lo, hi) if lo <= v <= hi]
    return inside if len(inside) >= 2 else [lo, hi]


LOG_PAD = 1.08  # a log axis spans the data and this factor either side: it follows the data


class _Frame:
    def __init__(self, x_range, y_range, log_x=False, width=WIDTH, height=HEIGHT):
        self.x0, self.x1 = x_range
        self.y0, self.y1 = y_range
        self.log_x = log_x
        self.w, self.h = width, height
        self.pw = width - MARGIN["left"] - MARGIN["right"]
        self.ph = height - MARGIN["top"] - MARGIN["bottom"]

    def x(self, v: float) -> float:
        if self.log_x:
            v, a, b = math.log10(max(v, 1e-12)), math.log10(self.x0), math.log10(self.x1)
        else:
            a, b = self.x0, self.x1
        return MARGIN["left"] + (v - a) / ((b - a) or 1.0) * self.pw

    def y(self, v: float) -> float:
        return MARGIN["top"] + self.ph - (v - self.y0) / ((self.y1 - self.y0) or 1.0) * self.ph


def _open(title: str, width: int = WIDTH, height: int = HEIGHT) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">',
            f"<title>{escape(title)}</title>",
            f'<text x="{MARGIN["left"]}" y="18" class="chart-title">{escape(title)}</text>']


def _axes(f: _Frame, xticks, yticks, x_label: str, y_label: str, x_fmt=_fmt) -> list[str]:
    out = []
    for t in yticks:
        y = f.y(t)
        out.append(f'<line x1="{MARGIN["left"]}" x2="{f.w - MARGIN["right"]}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        out.append(f'<text x="{MARGIN["left"] - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{_fmt(t)}</text>')
    base = MARGIN["top"] + f.ph
    for t in xticks:
        x = f.x(t)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{base}" y2="{base + 4}" class="axis"/>')
        out.append(f'<text x="{x:.1f}" y="{base + 16}" class="tick" text-anchor="middle">{x_fmt(t)}</text>')
    out.append(f'<line x1="{MARGIN["left"]}" x2="{f.w - MARGIN["right"]}" y1="{base}" y2="{base}" class="axis"/>')
    out.append(f'<line x1="{MARGIN["left"]}" x2="{MARGIN["left"]}" y1="{MARGIN["top"]}" y2="{base}" class="axis"/>')
    out.append(f'<text x="{MARGIN["left"] + f.pw / 2:.1f}" y="{f.h - 8}" class="label" '
               f'text-anchor="middle">{escape(x_label)}</text>')
    cy = MARGIN["top"] + f.ph / 2
    out.append(f'<text x="14" y="{cy:.1f}" class="label" text-anchor="middle" '
               f'transform="rotate(-90 14 {cy:.1f})">{escape(y_label)}</text>')
    return out


def _legend(items: Sequence[tuple[str, str, bool]], width: int = WIDTH) -> list[str]:
    out, x = [], width - MARGIN["right"]
    for label, color, dashed in reversed(items):
        x -= 22 + 7 * len(label)
        dash = ' stroke-dasharray="5 3"' if dashed else ""
        out.append(f'<line x1="{x}" x2="{x + 16}" y1="31" y2="31" stroke="{color}" stroke-width="2.5"{dash}/>')
        out.append(f'<text x="{x + 20}" y="35" class="legend">{escape(label)}</text>')
    return out


def empty_chart(title: str, message: str) -> str:
    out = _open(title, height=120)
    out.append(f'<text x="{WIDTH / 2}" y="70" class="empty" text-anchor="middle">{escape(message)}</text>')
    return "\n".join(out + ["</svg>"])


def line_chart(series: Sequence[Series], *, title: str, x_label: str, y_label: str, log_x: bool = False,
               y_range: tuple[float, float] | None = None, empty: str = "no data") -> str:
    points = [(x, y) for s in series for x, y in zip(s.xs, s.ys)
              if y is not None and x is not None and (not log_x or x > 0)]
    if not points:
        return empty_chart(title, empty)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    if log_x:
        x_range = (min(xs) / LOG_PAD, max(xs) * LOG_PAD)
        xticks = log_ticks(*x_range)
    else:
        xticks = nice_ticks(min(0.0, min(xs)), max(xs))
        x_range = (xticks[0], xticks[-1])
    yticks = nice_ticks(y_range[0], y_range[1]) if y_range else nice_ticks(min(0.0, min(ys)), max(ys) or 1.0)
    f = _Frame(x_range, (yticks[0], yticks[-1]), log_x)
    out = _open(title) + _axes(f, xticks, yticks, x_label, y_label)
    for s in series:
        runs: list[list[str]] = []
        run: list[str] = []
        for x, y in zip(s.xs, s.ys):
            if y is None or x is None or (log_x and x <= 0):
                if run:
                    runs.append(run)
                run = []
            else:
                run.append(f"{f.x(x):.1f},{f.y(y):.1f}")
        if run:
            runs.append(run)
        dash = ' stroke-dasharray="5 3"' if s.dashed else ""
        for r in runs:
            if len(r) == 1:
                cx, cy = r[0].split(",")
                out.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{s.color}"/>')
            else:
                out.append(f'<polyline fill="none" stroke="{s.color}" stroke-width="2"{dash} '
                           f'points="{" ".join(r)}"><title>{escape(s.label)}</title></polyline>')
    out += _legend([(s.label, s.color, s.dashed) for s in series])
    return "\n".join(out + ["</svg>"])


def bar_chart(groups: Sequence[str], series: Sequence[tuple[str, Sequence[float | None], str]], *,
              title: str, y_label: str, empty: str = "no data") -> str:
    """Grouped bars: for each group (x category) one bar per series (label, values, color)."""
    values = [v for _, vals, _ in series for v in vals if v is not None]
    if not values or not groups:
        return empty_chart(title, empty)
    yticks = nice_ticks(0.0, max(values) or 1.0)
    f = _Frame((0, len(groups)), (0.0, yticks[-1]))
    out = _open(title) + _axes(f, [], yticks, "", y_label)
    slot = f.pw / len(groups)
    bar = slot * 0.8 / max(1, len(series))
    base = MARGIN["top"] + f.ph
    for g, name in enumerate(groups):
        x0 = MARGIN["left"] + g * slot + slot * 0.1
        out.append(f'<text x="{x0 + slot * 0.4:.1f}" y="{base + 16}" class="tick" text-anchor="middle">'
                   f'{escape(name)}</text>')
        for k, (label, vals, color) in enumerate(series):
            v = vals[g] if g < len(vals) else None
            if v is None:
                continue
            x, y = x0 + k * bar, f.y(v)
            out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar * 0.92:.1f}" height="{base - y:.1f}" '
                       f'fill="{color}"><title>{escape(label)} {escape(name)}: {v:g}</title></rect>')
            out.append(f'<text x="{x + bar * 0.46:.1f}" y="{y - 3:.1f}" class="value" text-anchor="middle">'
                       f'{_fmt(v)}</text>')
    out += _legend([(label, color, False) for label, _, color in series])
    return "\n".join(out + ["</svg>"])
