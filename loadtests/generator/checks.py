"""Checking a sample of answers under load against reference outputs.

A wrong answer is a failed request in the load test's figures: a server that gets faster by
answering wrongly under load must not look better. The message has no numbers, so Locust groups
every wrong answer of an output in one error row; the detail (the differences) goes with it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from client.codec import shape_str
from client.parity.compare import tolerance_used

WRONG_ANSWER = "WRONG_ANSWER"


class WrongAnswer(Exception):
    """A response differs from its reference. `str()` is stable; `detail` has the numbers."""

    def __init__(self, message: str, detail: str):
        super().__init__(message)
        self.detail = detail


def compare(got: Mapping[str, np.ndarray], want: Mapping[str, np.ndarray], atol: float, rtol: float) -> None:
    """Raise WrongAnswer on the first output of `want` that `got` lacks or does not match.

    Floats match by Tandem's one tolerance rule (`client.parity.compare.tolerance_used`:
    |got - want| <= atol + rtol * max(|got|, |want|), NaN matches NaN); other datatypes must be equal."""
    for name, expected in want.items():
        if name not in got:
            raise WrongAnswer(f"wrong answer: output '{name}' is missing",
                              f"outputs returned: {', '.join(sorted(got)) or 'none'}")
        actual, expected = np.asarray(got[name]), np.asarray(expected)
        if actual.shape != expected.shape:
            raise WrongAnswer(f"wrong answer: output '{name}' has the wrong shape",
                              f"got {shape_str(actual.shape)}, expected {shape_str(expected.shape)}")
        if actual.dtype.kind in "fc" and expected.dtype.kind in "fciu":
            a, e = actual.astype(np.float64), expected.astype(np.float64)
            if not (tolerance_used(a, e, atol, rtol) <= 1.0).all():
                diff = np.abs(a - e)
                diff = diff[np.isfinite(diff)]
                worst = float(diff.max()) if diff.size else float("nan")
                raise WrongAnswer(f"wrong answer: output '{name}' differs from the reference "
                                  f"(atol={atol:g}, rtol={rtol:g})", f"max abs diff {worst:.6g}")
        elif not np.array_equal(actual, expected):
            mismatched = int(np.sum(actual != expected)) if actual.dtype.kind != "O" else -1
            where = f"{mismatched} of {actual.size} elements differ" if mismatched >= 0 else "elements differ"
            raise WrongAnswer(f"wrong answer: output '{name}' differs from the reference", where)
