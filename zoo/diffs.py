"""Measuring how far two frameworks' outputs are apart, against a model's tolerance."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from client.parity.compare import tolerance_used

from .specs import Tolerance


def output_diff(a: np.ndarray, b: np.ndarray, tolerance: Tolerance) -> dict[str, float]:
    """max/mean absolute difference and `tolerance_used`: max |a-b| / (atol + rtol*max(|a|, |b|)), so
    <= 1 is within tolerance (`client.parity.compare.tolerance_used`: the one rule, symmetric)."""
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    err = np.abs(a64 - b64)
    used = tolerance_used(a64, b64, tolerance.atol, tolerance.rtol)
    return {"max_abs_diff": float(err.max(initial=0.0)), "mean_abs_diff": float(err.mean()) if err.size else 0.0,
            "tolerance_used": float(used.max(initial=0.0))}


def compare(candidate: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray],
            tolerance: Tolerance) -> dict[str, dict[str, float]]:
    """output_diff for every output of the reference; KeyError names a missing output."""
    missing = [name for name in reference if name not in candidate]
    if missing:
        raise KeyError(f"outputs missing: {', '.join(missing)}")
    return {name: output_diff(np.asarray(candidate[name]), np.asarray(ref), tolerance)
            for name, ref in reference.items()}


def within(diffs: Mapping[str, Mapping[str, float]]) -> bool:
    return all(d["tolerance_used"] <= 1.0 for d in diffs.values())


def describe(diffs: Mapping[str, Mapping[str, float]]) -> str:
    return "; ".join(f"{name}: max |diff| {d['max_abs_diff']:.2e} ({d['tolerance_used']:.1%} of tolerance)"
                     for name, d in diffs.items())
