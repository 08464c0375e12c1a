"""The difference statistics: exact values on small arrays, tolerance edges, non-finite values."""

from __future__ import annotations

import numpy as np
import pytest

from client.parity.compare import Classification, OutputDiff


def diff_of(a, b, atol=1e-4, rtol=1e-3, datatype="FP64", rows=None):
    a, b = np.asarray(a), np.asarray(b)
    d = OutputDiff("y", datatype, atol, rtol)
    d.add(a, b, 0, a.shape[0] if rows is None else rows)
    return d


def test_identical_outputs():
    x = np.random.default_rng(0).standard_normal((4, 5))
    d = diff_of(x, x.copy()).to_dict()
    assert d["passed"] and d["mismatched_elements"] == 0 and d["elements"] == 20
    assert d["max_abs_diff"] == d["max_rel_diff"] == d["mean_abs_diff"] == 0.0
    assert d["cosine_similarity"] == pytest.approx(1.0) and d["worst_sample"] is None


def test_known_differences_are_measured_exactly():
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    b = a + np.array([[0.0, 0.0], [0.5, 0.0]])
    d = diff_of(a, b).to_dict()
    assert d["max_abs_diff"] == 0.5
    assert d["max_rel_diff"] == pytest.approx(0.5 / 3.5)
    assert d["mean_abs_diff"] == pytest.approx(0.125)
    assert d["mismatched_elements"] == 1 and d["worst_sample"] == 1 and not d["passed"]
    cos_row1 = (3 * 3.5 + 4 * 4) / (np.hypot(3, 4) * np.hypot(3.5, 4))
    assert d["min_cosine_similarity"] == pytest.approx(cos_row1)
    assert d["cosine_similarity"] == pytest.approx((1 + cos_row1) / 2)


def test_statistics_are_symmetric():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((3, 7)), rng.standard_normal((3, 7))
    assert diff_of(a, b).to_dict() == diff_of(b, a).to_dict()


def test_tolerance_edge():
    atol, rtol = 1e-3, 1e-2
    base = np.array([[10.0]])
    limit = atol + rtol * 10.0  # the larger magnitude is 10: |A - B| <= atol + rtol * max(|A|, |B|)
    assert diff_of(base, base - limit * 0.999, atol, rtol).passed
    assert not diff_of(base, base - limit * 1.001, atol, rtol).passed
    assert not diff_of(base - limit * 1.001, base, atol, rtol).passed


def test_non_finite_values():
    nan, inf = np.nan, np.inf
    same = diff_of([[nan, inf, 1.0]], [[nan, inf, 1.0]])
    assert same.passed and same.to_dict()["cosine_similarity"] == 1.0
    one_nan = diff_of([[nan, 1.0]], [[0.0, 1.0]]).to_dict()
    assert not one_nan["passed"] and one_nan["mismatched_elements"] == 1
    assert one_nan["max_abs_diff"] is None and one_nan["min_cosine_similarity"] is None


def test_cosine_edge_cases():
    d = diff_of([[0.0, 0.0], [1.0, 0.0], [1.0, 2.0], [1.0, 1.0]],
                [[0.0, 0.0], [0.0, 1.0], [-1.0, -2.0], [0.0, 0.0]], atol=10, rtol=0)
    assert d.to_dict()["cosine_similarity"] == pytest.approx((1 + 0 - 1 + 0) / 4)
    assert d.to_dict()["min_cosine_similarity"] == pytest.approx(-1.0)


def test_structural_differences_fail_the_output():
    d = diff_of(np.zeros((2, 3)), np.zeros((2, 4)))
    assert not d.passed and "FP64 [2, 3] on A, FP64 [2, 4] on B" in d.problem
    d = diff_of(np.zeros((2, 3), np.float32), np.zeros((2, 3)), datatype="FP32")
    assert not d.passed and "FP32 [2, 3] on A, FP64 [2, 3] on B" in d.problem


def test_bytes_outputs_are_compared_exactly():
    a = np.array([b"x", b"yy", b"z"], dtype=object)
    b = np.array([b"x", b"YY", b"z"], dtype=object)
    d = diff_of(a, b, datatype="BYTES").to_dict()
    assert d["mismatched_elements"] == 1 and d["elements"] == 3 and not d["passed"]
    assert d["max_abs_diff"] is None and d["cosine_similarity"] is None
    assert diff_of(a, a.copy(), datatype="BYTES").passed


def test_classification_agreement_and_accuracy():
    a = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    b = np.array([[0.8, 0.2], [0.4, 0.6], [0.4, 0.6], [0.3, 0.7]])
    labels = np.array([0, 1, 1, 1, 0, 0])
    c = Classification("y")
    c.add(a[:2], b[:2], 0, 2, labels)
    c.add(a[2:], b[2:], 2, 2, labels)
    d = c.to_dict()
    assert d["samples"] == 4 and d["top1_agreement"] == 0.75 and d["disagreements"] == 1
    assert d["labeled_samples"] == 4 and d["accuracy_a"] == 0.75 and d["accuracy_b"] == 1.0


def test_classification_needs_one_row_per_sample():
    c = Classification("y")
    c.add(np.zeros(3), np.zeros(3), 0, 2, None)
    assert c.problem and "no row of scores per sample" in c.problem
