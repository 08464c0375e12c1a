"""Per-output difference statistics and classifier agreement, accumulated request by request.

Definitions (A and B are the two sides' values of one element, as float64):
- abs diff = |A - B|; rel diff = |A - B| / max(|A|, |B|), 0 where A == B. Both are symmetric.
- An element is within tolerance when |A - B| <= atol + rtol * max(|A|, |B|) (`tolerance_used`,
  the one rule every check of Tandem uses). NaN equals NaN and an infinity equals the same
  infinity; any other non-finite difference is out of tolerance.
- Cosine similarity is computed per sample (the output's row along axis 0 when it has one row per
  sample of the request, else the whole output) and averaged; both-zero rows count as 1, one zero
  row against a non-zero one as 0.
- BYTES outputs are compared for exact equality only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..codec import shape_str
from ..datatypes import datatype_of


def tolerance_used(a, b, atol: float, rtol: float) -> np.ndarray:
    """Tandem's one tolerance rule (parity suite, zoo build, load-test answer checks; justified in
    docs/numerics.md), elementwise as float64: |a - b| / (atol + rtol * max(|a|, |b|)); an element
    is within tolerance when this is <= 1. Symmetric: neither side is the reference. Equal values
    (NaN and NaN, the same infinity) give 0, any other non-finite difference inf."""
    a64, b64 = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    same = (a64 == b64) | (np.isnan(a64) & np.isnan(b64))
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        diff = np.abs(a64 - b64)
        used = diff / (atol + rtol * np.fmax(np.abs(a64), np.abs(b64)))
    return np.where(same, 0.0, np.where(np.isnan(used), np.inf, used))


def within_tolerance(a, b, atol: float, rtol: float) -> bool:
    """Every element of a and b within tolerance (same shapes expected)."""
    return bool((tolerance_used(a, b, atol, rtol) <= 1.0).all())


def sample_rows(array: np.ndarray, rows: int) -> int:
    """How many per-sample rows the output holds: `rows` when axis 0 is the samples, else 1."""
    return rows if array.ndim >= 1 and array.shape[0] == rows else 1


def _number(x: float | None) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def _cosines(ra: np.ndarray, rb: np.ndarray, same_rows: np.ndarray) -> np.ndarray:
    finite = np.isfinite(ra).all(axis=1) & np.isfinite(rb).all(axis=1)
    ra = np.where(finite[:, None], ra, 0.0)
    rb = np.where(finite[:, None], rb, 0.0)
    na, nb = np.linalg.norm(ra, axis=1), np.linalg.norm(rb, axis=1)
    dot = np.einsum("ij,ij->i", ra, rb)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.clip(dot / (na * nb), -1.0, 1.0)
    cos = np.where((na == 0) & (nb == 0), 1.0, np.where((na == 0) | (nb == 0), 0.0, cos))
    return np.where(finite, cos, np.where(same_rows, 1.0, np.nan))


@dataclass
class OutputDiff:
    """The comparison of one output over every request."""

    name: str
    datatype: str
    atol: float
    rtol: float
    elements: int = 0
    mismatched: int = 0
    max_abs: float = 0.0
    max_rel: float = 0.0
    sum_abs: float = 0.0
    cos_sum: float = 0.0
    cos_count: int = 0
    cos_min: float = 1.0
    cos_undefined: int = 0  # samples whose cosine is undefined (non-finite values that differ)
    worst_sample: int | None = None
    problem: str | None = None  # a structural difference (shape, datatype): the output fails

    @property
    def passed(self) -> bool:
        return self.problem is None and self.mismatched == 0

    def add(self, a: np.ndarray, b: np.ndarray, offset: int, rows: int) -> None:
        """Compare one request's answers; `offset` is the index of its first sample."""
        if self.problem is not None:
            return
        dta, dtb = datatype_of(a), datatype_of(b)
        if dta != dtb or a.shape != b.shape:
            self.problem = (f"request at sample {offset}: {dta} {shape_str(a.shape)} on A, "
                            f"{dtb} {shape_str(b.shape)} on B")
            return
        if dta != self.datatype:
            self.problem = f"request at sample {offset}: both sides answered {dta}, declared {self.datatype}"
            return
        if dta == "BYTES":
            equal = np.asarray(a == b, dtype=bool).reshape(-1)
            self._count(int(equal.size), int((~equal).sum()), offset)
            return
        self._add_numeric(a.astype(np.float64), b.astype(np.float64), offset, rows)

    def _count(self, elements: int, bad: int, offset: int) -> None:
        self.elements += elements
        self.mismatched += bad
        if bad and self.worst_sample is None:
            self.worst_sample = offset

    def _add_numeric(self, a: np.ndarray, b: np.ndarray, offset: int, rows: int) -> None:
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        with np.errstate(invalid="ignore", over="ignore"):
            diff = np.abs(a - b)
        diff = np.where(same, 0.0, np.where(np.isnan(diff), np.inf, diff))
        scale = np.fmax(np.abs(a), np.abs(b))
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.where(same, 0.0, np.where(np.isfinite(diff) & np.isfinite(scale), diff / scale, np.inf))
        bad = tolerance_used(a, b, self.atol, self.rtol) > 1.0
        n = sample_rows(a, rows)
        self.elements += a.size
        self.mismatched += int(bad.sum())
        if a.size:
            row_max = diff.reshape(n, -1).max(axis=1)
            worst = int(np.argmax(row_max))
            if row_max[worst] > self.max_abs:
                self.worst_sample = offset + worst
                self.max_abs = float(row_max[worst])
            self.max_rel = max(self.max_rel, float(rel.max()))
            self.sum_abs += float(diff.sum())
        cos = _cosines(a.reshape(n, -1), b.reshape(n, -1), same.reshape(n, -1).all(axis=1))
        undefined = np.isnan(cos)
        self.cos_undefined += int(undefined.sum())
        self.cos_sum += float(cos[~undefined].sum())
        self.cos_count += int((~undefined).sum())
        if (~undefined).any():
            self.cos_min = min(self.cos_min, float(cos[~undefined].min()))

    def to_dict(self) -> dict:
        numeric = self.datatype != "BYTES"
        mean_abs = self.sum_abs / self.elements if self.elements else 0.0
        cos_mean = self.cos_sum / self.cos_count if self.cos_count else None
        cos_min = None if self.cos_undefined or not self.cos_count else self.cos_min
        return {
            "name": self.name,
            "datatype": self.datatype,
            "elements": self.elements,
            "mismatched_elements": self.mismatched,
            "max_abs_diff": _number(self.max_abs) if numeric else None,
            "max_rel_diff": _number(self.max_rel) if numeric else None,
            "mean_abs_diff": _number(mean_abs) if numeric else None,
            "cosine_similarity": _number(cos_mean) if numeric else None,
            "min_cosine_similarity": _number(cos_min) if numeric else None,
            "worst_sample": self.worst_sample,
            "passed": self.passed,
            "problem": self.problem,
        }


@dataclass
class Classification:
    """Top-1 agreement between the sides on a classification output, and accuracy on labels."""

    output: str
    samples: int = 0
    agreements: int = 0
    labeled: int = 0
    correct_a: int = 0
    correct_b: int = 0
    problem: str | None = None

    def add(self, a: np.ndarray, b: np.ndarray, offset: int, rows: int, labels: np.ndarray | None) -> None:
        if self.problem is not None:
            return
        if a.shape != b.shape or a.dtype.kind in "OSU" or b.dtype.kind in "OSU":
            self.problem = f"classification output '{self.output}' is not comparable as class scores"
            return
        n = sample_rows(a, rows)
        if n != rows or a.size == 0:
            self.problem = (f"classification output '{self.output}' {shape_str(a.shape)} has no row of "
                            f"scores per sample (request of {rows})")
            return
        top_a = np.argmax(a.reshape(n, -1), axis=1)
        top_b = np.argmax(b.reshape(n, -1), axis=1)
        self.samples += n
        self.agreements += int((top_a == top_b).sum())
        if labels is not None:
            truth = labels[offset:offset + n]
            self.labeled += n
            self.correct_a += int((top_a == truth).sum())
            self.correct_b += int((top_b == truth).sum())

    def to_dict(self) -> dict:
        def ratio(k, n):
            return k / n if n else None
        return {
            "output": self.output,
            "samples": self.samples,
            "top1_agreement": ratio(self.agreements, self.samples),
            "disagreements": self.samples - self.agreements,
            "labeled_samples": self.labeled,
            "accuracy_a": ratio(self.correct_a, self.labeled),
            "accuracy_b": ratio(self.correct_b, self.labeled),
            "problem": self.problem,
        }
