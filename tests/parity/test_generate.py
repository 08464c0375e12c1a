"""Inputs generated from a signature: datatypes, shapes, ranges, masks, determinism."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client.datatypes import DATATYPES, datatype_of
from client.messages import TensorSpec
from client.parity.generate import (
    DEFAULT_INT_RANGE,
    InputGenerator,
    Limits,
    parse_range,
)
from server_core.signature import shape_matches

TEXT = [TensorSpec("input_ids", "INT64", (-1, -1)), TensorSpec("attention_mask", "INT64", (-1, -1)),
        TensorSpec("token_type_ids", "INT64", (-1, -1)), TensorSpec("position_ids", "INT64", (-1, -1))]


@settings(max_examples=60, deadline=None)
@given(datatype=st.sampled_from(sorted(DATATYPES)),
       shape=st.lists(st.sampled_from([-1, 1, 3]), min_size=1, max_size=4),
       rows=st.one_of(st.none(), st.integers(1, 5)), seed=st.integers(0, 2**32 - 1))
def test_generated_tensors_match_their_spec(datatype, shape, rows, seed):
    spec = TensorSpec("t", datatype, tuple(shape))
    array = InputGenerator([spec], seed=seed, limits=Limits(max_dim=4)).batch(rows)["t"]
    assert datatype_of(array) == datatype
    assert shape_matches(spec.shape, array.shape)
    if rows is not None and shape[0] == -1:
        assert array.shape[0] == rows
    if datatype == "BYTES":
        assert all(isinstance(w, bytes) and 1 <= len(w) <= 16 for w in array.reshape(-1))
    elif array.dtype.kind in "iu":
        assert array.size == 0 or (array.min() >= DEFAULT_INT_RANGE[0] and array.max() < DEFAULT_INT_RANGE[1])


def test_same_seed_same_batches_and_other_seed_differs():
    spec = [TensorSpec("x", "FP32", (-1, -1))]
    first = [InputGenerator(spec, seed=5).batch(4)["x"] for _ in range(2)]
    np.testing.assert_array_equal(first[0], first[1])
    gen_a, gen_b = InputGenerator(spec, seed=5), InputGenerator(spec, seed=6)
    a, b = gen_a.batch(4)["x"], gen_b.batch(4)["x"]
    assert a.shape != b.shape or not np.array_equal(a, b)


def test_text_inputs_share_sequence_length_and_get_sensible_values():
    gen = InputGenerator(TEXT, seed=3, ranges={"input_ids": (0, 30)}, limits=Limits(min_dim=2, max_dim=12))
    lengths = set()
    for _ in range(20):
        batch = gen.batch(8)
        shapes = {a.shape for a in batch.values()}
        assert len(shapes) == 1, shapes  # one sequence length for every [-1, -1] input
        (rows, length), = shapes
        lengths.add(length)
        ids, mask = batch["input_ids"], batch["attention_mask"]
        assert ids.dtype == np.int64 and 0 <= ids.min() and ids.max() < 30
        assert set(np.unique(mask)) <= {0, 1}
        kept = mask.sum(axis=1)
        assert (kept >= 1).all()  # never a fully masked row
        np.testing.assert_array_equal(mask, (np.arange(length) < kept[:, None]).astype(np.int64))  # padding form
        assert not batch["token_type_ids"].any()
        np.testing.assert_array_equal(batch["position_ids"], np.broadcast_to(np.arange(length), (rows, length)))
    assert len(lengths) > 1 and min(lengths) >= 2 and max(lengths) <= 12


def test_float_range_and_fixed_dimensions():
    spec = [TensorSpec("image", "FP32", (-1, 3, 4, 4))]
    image = InputGenerator(spec, seed=0, ranges={"image": (0.0, 1.0)}).batch(5)["image"]
    assert image.shape == (5, 3, 4, 4) and image.dtype == np.float32
    assert 0.0 <= image.min() and image.max() < 1.0 and image.std() > 0.1


def test_parse_range_checks_the_text_against_the_datatype():
    ids = TensorSpec("ids", "INT64", (-1,))
    assert parse_range(ids, "0, 1000") == (0, 1000)
    assert parse_range(TensorSpec("x", "FP32", (-1,)), "-0.5,0.5") == (-0.5, 0.5)
    with pytest.raises(ValueError, match=r"input 'ids': range '0' is malformed; expected \"lo,hi\""):
        parse_range(ids, "0")
    with pytest.raises(ValueError, match="expected two integers"):
        parse_range(ids, "0.5,3")
    with pytest.raises(ValueError, match="expected lo < hi"):
        parse_range(ids, "5,5")
    with pytest.raises(ValueError, match=r"does not fit UINT8 \[0, 255\]"):
        parse_range(TensorSpec("u", "UINT8", (-1,)), "0,300")


def test_undeclarable_datatype_is_refused_with_the_input_name():
    with pytest.raises(ValueError, match="input 'z': cannot generate datatype 'COMPLEX64'"):
        InputGenerator([TensorSpec("z", "COMPLEX64", (-1,))])


def test_limits_are_validated():
    with pytest.raises(ValueError, match="min_dim <= max_dim"):
        Limits(min_dim=5, max_dim=2)
