"""Exact per-request samples and the figures computed from them.

Locust rounds response times (whole milliseconds under 100 ms) and keeps them in buckets; this
store keeps every request's own latency so percentiles, the CDF and the timeline are exact. It is
plain Python (no gevent, no Locust) so the runner and the tests use it directly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from . import seconds as seconds_mod

PERCENTILES = (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p99_9", 99.9))
CDF_POINTS = 200
MAX_ERROR_EXAMPLES = 5


CHECK_NONE, CHECK_PASSED, CHECK_FAILED = 0, 1, 2


@dataclass
class SampleStore:
    """Completed requests: wall-clock end time (s), latency (ms), success flag, error kind (None
    when it succeeded) and reference check (CHECK_NONE / CHECK_PASSED / CHECK_FAILED).

    `drain()` hands out (and forgets) what was added since the last drain, as a JSON/msgpack
    friendly payload; `merge()` adds such a payload. Workers drain, the master merges. Every figure
    is computed over a time window, so warm-up requests are left out exactly.
    """

    t: list[float] = field(default_factory=list)
    ms: list[float] = field(default_factory=list)
    ok: list[bool] = field(default_factory=list)
    kind: list[str | None] = field(default_factory=list)
    check: list[int] = field(default_factory=list)
    examples: dict[str, list[str]] = field(default_factory=dict)  # error kind -> a few messages

    def add(self, t: float, ms: float, error: tuple[str, str] | None = None, check: int = CHECK_NONE) -> None:
        self.t.append(t)
        self.ms.append(ms)
        self.ok.append(error is None)
        self.check.append(check)
        if error is None:
            self.kind.append(None)
            return
        kind, message = error
        self.kind.append(kind)
        seen = self.examples.setdefault(kind, [])
        if len(seen) < MAX_ERROR_EXAMPLES and message not in seen:
            seen.append(message)

    def __len__(self) -> int:
        return len(self.t)

    def drain(self) -> dict:
        payload = {"t": self.t, "ms": self.ms, "ok": self.ok, "kind": self.kind, "check": self.check,
                   "examples": self.examples}
        self.t, self.ms, self.ok, self.kind, self.check, self.examples = [], [], [], [], [], {}
        return payload

    def merge(self, payload: Mapping) -> None:
        n = len(payload.get("t", ()))
        self.t.extend(payload.get("t", ()))
        self.ms.extend(payload.get("ms", ()))
        self.ok.extend(bool(v) for v in payload.get("ok", ()))
        self.kind.extend(payload.get("kind", [None] * n))
        self.check.extend(payload.get("check", [CHECK_NONE] * n))
        for kind, messages in payload.get("examples", {}).items():
            seen = self.examples.setdefault(kind, [])
            seen.extend(m for m in messages if m not in seen and len(seen) < MAX_ERROR_EXAMPLES)

    def _window(self, start: float, end: float) -> np.ndarray:
        t = np.asarray(self.t, dtype=np.float64)
        return (t >= start) & (t <= end)

    def arrays(self, start: float, end: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(t relative to `start`, ms, ok) of the requests that ended within [start, end]."""
        keep = self._window(start, end)
        return (np.asarray(self.t, dtype=np.float64)[keep] - start,
                np.asarray(self.ms, dtype=np.float64)[keep], np.asarray(self.ok, dtype=bool)[keep])

    def errors(self, start: float, end: float) -> list[dict]:
        """[{kind, count, examples}] of the window, most frequent first."""
        keep = self._window(start, end)
        counts: dict[str, int] = {}
        for k, kept in zip(self.kind, keep):
            if kept and k is not None:
                counts[k] = counts.get(k, 0) + 1
        return [{"kind": k, "count": c, "examples": list(self.examples.get(k, []))}
                for k, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]

    def checks(self, start: float, end: float) -> dict:
        """How many responses of the window were checked against the reference, and how they fared."""
        check = np.asarray(self.check, dtype=np.int8)[self._window(start, end)]
        passed, failed = int((check == CHECK_PASSED).sum()), int((check == CHECK_FAILED).sum())
        return {"sampled": passed + failed, "passed": passed, "failed": failed}


def _round(x: float, digits: int = 3) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), digits)


def latency_summary(ms: np.ndarray) -> dict:
    """min / mean / p50 / p90 / p99 / p99.9 / max in ms (None when there is no sample)."""
    out: dict = {"count": int(ms.size)}
    keys = ["min", "mean", *(k for k, _ in PERCENTILES), "max"]
    if not ms.size:
        return out | dict.fromkeys(keys)
    values = np.percentile(ms, [q for _, q in PERCENTILES])
    out.update(min=_round(ms.min()), mean=_round(ms.mean()))
    out.update({k: _round(v) for (k, _), v in zip(PERCENTILES, values)})
    out["max"] = _round(ms.max())
    return out


def cdf(ms: np.ndarray, points: int = CDF_POINTS) -> list[list[float | None]]:
    """[[latency_ms, fraction <= it], ...]: dense in the tail, where the interesting part is."""
    if not ms.size:
        return []
    body = np.linspace(0.0, 0.99, points // 2, endpoint=False)
    tail = 1.0 - np.logspace(-2, -4, points - points // 2)  # 0.99 ... 0.9999
    q = np.unique(np.clip(np.concatenate([body, tail, [1.0]]), 0.0, 1.0))
    values = np.quantile(np.sort(ms), q)
    return [[_round(v), _round(f, 6)] for v, f in zip(values, q)]


def timeline(t: np.ndarray, ms: np.ndarray, ok: np.ndarray, duration: float, bucket: float = 1.0) -> dict:
    """Per-bucket successes/s, failures/s and p50/p99 latency (ms) over [0, duration]."""
    n = max(1, round(duration / bucket))  # a last part shorter than half a bucket joins the one before
    index = np.minimum((t // bucket).astype(int), n - 1) if t.size else np.zeros(0, dtype=int)
    ok_counts = np.bincount(index[ok], minlength=n)[:n]
    err_counts = np.bincount(index[~ok], minlength=n)[:n]
    p50, p99 = [], []
    for i in range(n):
        sel = ms[(index == i) & ok]
        p50.append(_round(np.percentile(sel, 50)) if sel.size else None)
        p99.append(_round(np.percentile(sel, 99)) if sel.size else None)
    widths = [bucket] * (n - 1) + [max(duration - (n - 1) * bucket, 1e-9)]
    return {
        "t": [_round((i + 1) * bucket) for i in range(n - 1)] + [_round(duration)],
        "rps": [_round(c / w, 3) for c, w in zip(ok_counts, widths)],
        "errors_per_s": [_round(c / w, 3) for c, w in zip(err_counts, widths)],
        "p50_ms": p50,
        "p99_ms": p99,
    }


def window_stats(store: SampleStore, start: float, end: float) -> dict:
    """Requests, error rate and p99 of one time window (the ramp shape judges each step by these)."""
    _, ms, ok = store.arrays(start, end)
    total = int(ok.size)
    good = ms[ok]
    span = max(end - start, 1e-9)
    return {
        "requests": total,
        "rps": total and int(ok.sum()) / span,
        "error_rate": (total - int(ok.sum())) / total if total else 0.0,
        "p50_ms": float(np.percentile(good, 50)) if good.size else None,
        "p99_ms": float(np.percentile(good, 99)) if good.size else None,
    }


def summarize(store: SampleStore, start: float, end: float, batch_size: int = 1) -> dict:
    """Everything the report needs from the samples of [start, end] (wall-clock seconds)."""
    duration = max(end - start, 1e-9)
    t, ms, ok = store.arrays(start, end)
    total, good = int(ok.size), int(ok.sum())
    return {
        "duration_s": _round(duration),
        "requests": {
            "total": total, "ok": good, "failed": total - good,
            "error_rate": _round((total - good) / total, 6) if total else 0.0,
            "rps": _round(good / duration), "inferences_per_s": _round(good * batch_size / duration),
        },
        "latency_ms": latency_summary(ms[ok]),
        "cdf": cdf(ms[ok]),
        "timeline": timeline(t, ms, ok, duration),
        "seconds": seconds_mod.records(t, ms, ok, duration),
        "errors": store.errors(start, end),
        "checks": store.checks(start, end),
    }


def percentile_line(latency: Mapping) -> str:
    """`p50 1.234 ms | p90 ... | p99.9 ...` for logs and terminals."""
    parts = []
    for key, _ in PERCENTILES:
        value = latency.get(key)
        parts.append(f"{key.replace('_', '.')} {'-' if value is None else f'{value:.3f}'} ms")
    return " | ".join(parts)
