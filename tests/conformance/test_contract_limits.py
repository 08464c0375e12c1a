"""The shared request contract (server_core.contract) on every registered target: the same status
and the same words on each, whichever framework (or TF Serving) would have run the request."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from client import errors

RNG = np.random.default_rng(11)
ADD_SUB_MAX_BATCH = 8  # every target's add_sub batches up to 8 rows (tests/conformance/target.py)
DEFAULT_MAX_REQUEST_BYTES = 32 * 1024 * 1024


def client(target):
    return target.client(max_attempts=1)  # over the target's transport: gRPC or REST


def pair(rows0, rows1=None):
    return {"INPUT0": RNG.standard_normal((rows0, 16)).astype(np.float32),
            "INPUT1": RNG.standard_normal((rows1 or rows0, 16)).astype(np.float32)}


def refused(c, model, inputs) -> str:
    with pytest.raises(errors.InvalidArgumentError) as info:
        c.infer(model, inputs)
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    return info.value.message


def test_a_batch_over_max_batch_size_is_refused_naming_the_limit(target):
    with client(target) as c:
        message = refused(c, "add_sub", pair(ADD_SUB_MAX_BATCH + 1))
        assert message == ("input 'INPUT0': batch of 9 rows is larger than model 'add_sub' accepts "
                           "(max_batch_size 8); split the request")
        out = c.infer("add_sub", pair(ADD_SUB_MAX_BATCH), version="1")  # the limit itself is fine
        assert out["OUTPUT0"].shape == (ADD_SUB_MAX_BATCH, 16)


def test_inputs_with_different_batch_sizes_are_refused(target):
    with client(target) as c:
        message = refused(c, "add_sub", pair(2, 3))
    assert message == ("input 'INPUT1': batch of 3 rows, but input 'INPUT0' has 2; every input of model "
                       "'add_sub' needs the same batch size")


def test_the_work_of_one_request_is_bounded_in_bytes(target):
    columns = DEFAULT_MAX_REQUEST_BYTES // 4 + 1
    with client(target) as c:
        message = refused(c, "identity_fp32", {"INPUT0": np.zeros((1, columns), np.float32)})
        assert message == (f"input 'INPUT0': {4 * columns} bytes, more than model 'identity_fp32' accepts in one "
                           f"request (max_request_bytes {DEFAULT_MAX_REQUEST_BYTES}); split the request")
        small = np.ones((1, 4), np.float32)
        np.testing.assert_array_equal(c.infer("identity_fp32", {"INPUT0": small})["OUTPUT0"], small)
