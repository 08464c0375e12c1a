"""Per-second records of a run, the unit the statistics resample.

Each second of the measured window keeps its successful requests, its errors, and a histogram of
its successful latencies in log-spaced buckets (each `GROWTH` = 2 % wider than the last, from
`BASE_MS`): any percentile over any set of seconds is then read within 1 % of the exact value,
without keeping every request. JSON form (a run's `seconds`)::

    {"bucket_s": 1.0, "base_ms": 0.01, "growth": 1.02,
     "ok": [int per second], "errors": [int per second],
     "hist": [[[bucket index, ...], [count, ...]] per second]}

The last second may be shorter (`last_s`, its length).
"""

from __future__ import annotations

import numpy as np

BASE_MS = 0.01
GROWTH = 1.02
BUCKETS = int(np.ceil(np.log(1e7) / np.log(GROWTH)))  # 0.01 ms .. 100 s


def bucket_of(ms: np.ndarray) -> np.ndarray:
    idx = np.floor(np.log(np.maximum(np.asarray(ms, dtype=np.float64), BASE_MS) / BASE_MS) / np.log(GROWTH))
    return np.clip(idx.astype(np.int64), 0, BUCKETS - 1)


def bucket_ms(index: np.ndarray) -> np.ndarray:
    """The value a bucket stands for: its geometric middle."""
    return BASE_MS * GROWTH ** (np.asarray(index, dtype=np.float64) + 0.5)


def records(t: np.ndarray, ms: np.ndarray, ok: np.ndarray, duration: float, bucket: float = 1.0) -> dict:
    """The per-second records of requests ending at `t` (s from the window's start)."""
    n = max(1, int(np.ceil(duration / bucket - 1e-9)))
    which = np.clip((t // bucket).astype(np.int64), 0, n - 1)
    ok_counts = np.bincount(which[ok], minlength=n)
    err_counts = np.bincount(which[~ok], minlength=n)
    hist = []
    good_which, good_bucket = which[ok], bucket_of(ms[ok])
    for i in range(n):
        idx, counts = np.unique(good_bucket[good_which == i], return_counts=True)
        hist.append([idx.tolist(), counts.tolist()])
    return {"bucket_s": bucket, "last_s": round(max(duration - (n - 1) * bucket, 1e-9), 6), "base_ms": BASE_MS,
            "growth": GROWTH, "ok": ok_counts.tolist(), "errors": err_counts.tolist(), "hist": hist}


def dense(rec: dict, first: int = 0, last: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(seconds' lengths, ok counts, histogram matrix [second, bucket]) of seconds [first, last)."""
    n = len(rec["ok"])
    last = n if last is None else min(last, n)
    lengths = np.full(n, float(rec["bucket_s"]))
    if n:
        lengths[-1] = float(rec.get("last_s", rec["bucket_s"]))
    matrix = np.zeros((max(0, last - first), BUCKETS), dtype=np.float64)
    for row, (idx, counts) in enumerate(rec["hist"][first:last]):
        matrix[row, idx] = counts
    return lengths[first:last], np.asarray(rec["ok"][first:last], dtype=np.float64), matrix


def quantile(hist: np.ndarray, q: float) -> np.ndarray:
    """The q-quantile (0..1) of histogram rows (last axis: buckets), in ms; NaN for an empty row."""
    cum = np.cumsum(hist, axis=-1)
    total = cum[..., -1:]
    with np.errstate(invalid="ignore"):  # the first bucket holding the q-th request (q=0: the fastest one)
        idx = np.argmax((cum >= q * total - 1e-9) & (cum > 0), axis=-1)
    out = bucket_ms(idx)
    return np.where(total[..., 0] > 0, out, np.nan)
