"""Confidence intervals of throughput and latency by a hierarchical bootstrap.

One target's figures come from R rounds, each a run of S_r seconds (`loadtests.stats.seconds`).
A resample draws R rounds with replacement, then, within each drawn round, its S_r seconds with
replacement (drawing a round k times draws k x S_r of its seconds); it yields req/s (ok requests
over the drawn seconds' time) and p50/p99 (of the drawn seconds' pooled latency histograms).
Between-round noise (another run, another moment of a shared machine) and within-round noise both
show in the spread; with one round only the latter does, and the method says so.

Two targets are resampled independently; the 95 % interval of a ratio is the 2.5th..97.5th
percentile of the resampled ratios. Seeded: the same data give the same intervals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import seconds

RESAMPLES = 2000
LEVEL = 0.95
SEED = 20260


def method(rounds: int) -> str:
    text = (f"hierarchical percentile bootstrap ({RESAMPLES} resamples, seed {SEED}): rounds drawn with "
            "replacement, then seconds within each drawn round; req/s = ok requests / drawn seconds, "
            "p50 / p99 from the drawn seconds' latency histograms (2 % buckets); 95 % interval of a ratio = "
            "2.5th..97.5th percentile of the resampled ratios; significant when the interval of req/s or "
            "of p99 excludes 1")
    if rounds < 2:
        text += "; one round only: the intervals cover within-round noise, not run-to-run noise"
    return text


@dataclass
class Data:
    """One target's per-second data: a (lengths, ok counts, histogram matrix) per round."""

    rounds: list[tuple[np.ndarray, np.ndarray, np.ndarray]]

    @classmethod
    def from_records(cls, records: list[dict], window: tuple[int, int | None] = (0, None)) -> Data:
        rounds = [seconds.dense(r, *window) for r in records if r and r.get("ok")]
        return cls([r for r in rounds if r[0].size])

    def __bool__(self) -> bool:
        return bool(self.rounds)

    def point(self) -> dict:
        """Median over rounds of each round's req/s, p50, p99."""
        per = [(ok.sum() / lengths.sum(), *seconds.quantile(hist.sum(axis=0), 0.5).reshape(1),
                *seconds.quantile(hist.sum(axis=0), 0.99).reshape(1)) for lengths, ok, hist in self.rounds]
        arr = np.asarray(per, dtype=np.float64)
        return {"rps": float(np.median(arr[:, 0])), "p50_ms": float(np.nanmedian(arr[:, 1])),
                "p99_ms": float(np.nanmedian(arr[:, 2]))}

    def resample(self, rng: np.random.Generator, n: int = RESAMPLES) -> dict[str, np.ndarray]:
        r = len(self.rounds)
        picks = rng.integers(0, r, size=(n, r))
        times = np.stack([(picks == k).sum(axis=1) for k in range(r)], axis=1)  # [n, r]
        ok_sum = np.zeros(n)
        len_sum = np.zeros(n)
        hist_sum = np.zeros((n, seconds.BUCKETS))
        for k, (lengths, ok, hist) in enumerate(self.rounds):
            s = lengths.size
            w = rng.multinomial(times[:, k] * s, np.full(s, 1.0 / s))  # [n, s]
            ok_sum += w @ ok
            len_sum += w @ lengths
            hist_sum += w @ hist
        with np.errstate(invalid="ignore", divide="ignore"):
            rps = ok_sum / len_sum
        return {"rps": rps, "p50_ms": seconds.quantile(hist_sum, 0.5), "p99_ms": seconds.quantile(hist_sum, 0.99)}


def ratio(a: Data, b: Data, *, seed: int = SEED) -> dict:
    """b over a: {figure: {"ratio", "low", "high"}} for rps, p50_ms, p99_ms (None where undefined)."""
    rng = np.random.default_rng(seed)
    pa, pb = a.point(), b.point()
    ra, rb = a.resample(rng), b.resample(rng)
    out: dict[str, dict[str, float | None]] = {}
    tail = (1.0 - LEVEL) / 2 * 100
    for key in ("rps", "p50_ms", "p99_ms"):
        with np.errstate(invalid="ignore", divide="ignore"):
            ratios = rb[key] / ra[key]
        ratios = ratios[np.isfinite(ratios)]
        point = pb[key] / pa[key] if pa[key] and np.isfinite(pa[key]) and np.isfinite(pb[key]) else None
        if point is None or ratios.size < RESAMPLES // 2:
            out[key] = {"ratio": None, "low": None, "high": None}
            continue
        lo, hi = np.percentile(ratios, [tail, 100 - tail])
        out[key] = {"ratio": round(float(point), 4), "low": round(float(lo), 4), "high": round(float(hi), 4)}
    return out
