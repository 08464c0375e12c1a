"""The shared request contract (server_core.contract) and its property grammar, checked directly."""

from __future__ import annotations

import numpy as np
import pytest

from client.messages import TensorSpec
from client.parity.properties import PropertyError
from server_core.contract import (
    InputRejected,
    RequestContract,
    RequestLimits,
    _RateLimitedLog,
)
from server_core.errors import InvalidArgument

IDS = TensorSpec("input_ids", "INT64", (-1, -1))
MASK = TensorSpec("attention_mask", "INT64", (-1, -1))
X = TensorSpec("x", "FP32", (-1, 64))
TEXT_PROPS = {"input_ids.range": "0,1000", "attention_mask.range": "0,2", "input_ids.max_shape": "0,128",
              "attention_mask.max_shape": "0,128", "input_ids.min_shape": "1,1",
              "attention_mask.shape_as": "input_ids"}


def text(**kwargs) -> RequestContract:
    return RequestContract("text-encoder", [IDS, MASK], TEXT_PROPS, **kwargs)


def ids_mask(rows=2, length=5, ids=None, mask=None):
    return {"input_ids": np.ones((rows, length), np.int64) if ids is None else ids,
            "attention_mask": np.ones((rows, length), np.int64) if mask is None else mask}


def refused(contract: RequestContract, inputs) -> str:
    with pytest.raises(InvalidArgument) as info:
        contract.check(inputs)
    return info.value.message


def test_a_valid_request_passes():
    text().check(ids_mask())
    RequestContract("digits-mlp", [X], {"x.range": "0,16"}, max_batch_size=32).check(
        {"x": np.full((32, 64), 16.0, np.float32)})  # float ranges include their top


def test_batch_over_max_batch_size_names_the_input_and_the_limit():
    contract = RequestContract("digits-mlp", [X], {}, max_batch_size=32)
    assert refused(contract, {"x": np.zeros((33, 64), np.float32)}) == (
        "input 'x': batch of 33 rows is larger than model 'digits-mlp' accepts (max_batch_size 32); "
        "split the request")


def test_unbatched_models_are_bounded_by_the_request_row_limit():
    message = refused(text(limits=RequestLimits(max_rows=4)), ids_mask(rows=5))
    assert message == ("input 'input_ids': batch of 5 rows is larger than model 'text-encoder' accepts "
                       "(max_request_rows 4); split the request")
    declared = RequestContract("m", [IDS], {"max_request_rows": "3"})
    assert "max_request_rows 3" in refused(declared, {"input_ids": np.zeros((4, 2), np.int64)})


def test_inputs_must_agree_on_the_batch_size():
    message = refused(text(), ids_mask(ids=np.ones((2, 5), np.int64), mask=np.ones((3, 5), np.int64)))
    assert message == ("input 'attention_mask': batch of 3 rows, but input 'input_ids' has 2; every input of "
                       "model 'text-encoder' needs the same batch size")


def test_request_bytes_are_bounded():
    contract = RequestContract("digits-mlp", [X], {}, limits=RequestLimits(max_bytes=1000))
    message = refused(contract, {"x": np.zeros((4, 64), np.float32)})
    assert message == ("input 'x': 1024 bytes, more than model 'digits-mlp' accepts in one request "
                       "(max_request_bytes 1000); split the request")


def test_declared_shapes_bound_each_dimension():
    assert refused(text(), ids_mask(length=129)) == (
        "input 'input_ids': dimension 1 is 129, larger than the maximum 128 of model 'text-encoder' "
        "(property 'input_ids.max_shape': \"0,128\")")
    assert "dimension 1 is 0, smaller than the minimum 1" in refused(text(), ids_mask(length=0))
    assert "dimension 0 is 0, smaller than the minimum 1" in refused(text(), ids_mask(rows=0))


def test_shape_as_pairs_two_inputs():
    message = refused(text(), ids_mask(ids=np.ones((2, 5), np.int64), mask=np.ones((2, 6), np.int64)))
    assert message == ("input 'attention_mask': shape [2, 6] differs from input 'input_ids' [2, 5]; model "
                       "'text-encoder' needs them the same shape (property 'attention_mask.shape_as')")


def test_integer_ranges_are_half_open_and_name_the_first_bad_value():
    ids = np.ones((2, 5), np.int64)
    ids[1, 3] = -1
    assert refused(text(), ids_mask(ids=ids)) == (
        "input 'input_ids': value -1 at index [1, 3] is outside [0, 1000) declared by model 'text-encoder' "
        "(property 'input_ids.range': \"0,1000\")")
    ids[1, 3] = 1000
    assert "value 1000 at index [1, 3]" in refused(text(), ids_mask(ids=ids))
    ids[1, 3] = 999
    text().check(ids_mask(ids=ids))


def test_float_ranges_are_closed_and_refuse_nan():
    contract = RequestContract("digits-mlp", [X], {"x.range": "0,16"})
    x = np.zeros((1, 64), np.float32)
    x[0, 5] = np.nan
    assert "value nan at index [0, 5] is outside [0.0, 16.0]" in refused(contract, {"x": x})
    x[0, 5] = 16.5
    assert "value 16.5" in refused(contract, {"x": x})


def test_checks_run_in_a_fixed_order():
    """rows before bytes before shapes before values, so both services name the same first mistake."""
    ids = np.full((5, 200), -1, np.int64)
    message = refused(text(limits=RequestLimits(max_rows=4, max_bytes=10)), ids_mask(ids=ids, mask=ids))
    assert "max_request_rows 4" in message
    assert "max_request_bytes" in refused(text(limits=RequestLimits(max_bytes=10)), ids_mask(ids=ids, mask=ids))
    assert "max_shape" in refused(text(), ids_mask(ids=ids, mask=ids))


def test_empty_tensors_pass_when_no_minimum_is_declared():
    RequestContract("identity", [TensorSpec("INPUT0", "FP32", (-1, -1))], {"INPUT0.range": "0,1"}).check(
        {"INPUT0": np.zeros((0, 3), np.float32)})


@pytest.mark.parametrize("properties, fragment", [
    ({"input_ids.range": "0"}, "malformed"),
    ({"input_ids.range": "5,1"}, "lo < hi"),
    ({"input_ids.range": "0.5,2"}, "two integers"),
    ({"input_ids.max_shape": "128"}, "expected 2 comma-separated sizes"),
    ({"input_ids.min_shape": "a,b"}, "integers >= 0"),
    ({"attention_mask.shape_as": "nope"}, "must name another input"),
    ({"max_request_rows": "0"}, "'max_request_rows': expected an integer >= 1"),
])
def test_malformed_declarations_fail_when_the_model_is_built(properties, fragment):
    with pytest.raises(PropertyError, match=fragment):
        RequestContract("m", [IDS, MASK], properties)


def test_properties_of_other_names_are_ignored():
    RequestContract("m", [IDS], {"logits.range": "whatever", "classification_output": "logits"}).check(
        {"input_ids": np.zeros((1, 1), np.int64)})


def test_framework_refusals_have_one_wording_and_a_rate_limited_log(caplog):
    first, second = InputRejected("m", "IndexError: index out of range"), InputRejected("m", "other text")
    assert first.message == second.message and "could not run on this request's inputs" in first.message
    assert "IndexError" not in first.message
    now = [0.0]
    limited = _RateLimitedLog(every_s=10.0, clock=lambda: now[0])
    with caplog.at_level("WARNING", logger="tandem.contract"):
        for _ in range(5):
            limited.warning("m", "refused %s", "x")
        now[0] = 11.0
        limited.warning("m", "refused %s", "y")
    lines = [r.getMessage() for r in caplog.records]
    refused = [line for line in lines if line.startswith("refused")]
    assert refused == ["refused x", "refused y (4 more since the last report)"]
