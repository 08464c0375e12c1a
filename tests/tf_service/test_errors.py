"""TF statuses become the one error type the same way for both backends."""

from __future__ import annotations

import grpc

from server_core.contract import InputRejected
from server_core.errors import ServingError, to_status
from tf_service.errors import ModelFailure, clean_message, from_status

GRAPH_ERROR = """Graph execution error:

Detected at node DecodeCompressed defined at (most recent call last):
<stack traces unavailable>
inflate() failed with error -3: incorrect header check
\t [[{{node DecodeCompressed}}]] [Op:__inference_signature_wrapper_faulty_140]"""

EAGER_ERROR = ("{{function_node __wrapped__Reshape_device_/job:localhost/replica:0/task:0/device:CPU:0}} "
               "Input to reshape is a tensor with 6 values, but the requested shape has 4 [Op:Reshape] name: ")


def test_messages_lose_graph_noise_but_keep_the_cause():
    assert clean_message(GRAPH_ERROR) == "inflate() failed with error -3: incorrect header check"
    assert clean_message(EAGER_ERROR) == "Input to reshape is a tensor with 6 values, but the requested shape has 4"
    assert clean_message("Servable not found for request: Specific(m, 3)") == \
        "Servable not found for request: Specific(m, 3)"
    assert clean_message("x" * 2000).endswith("...") and len(clean_message("x" * 2000)) <= 503


def test_invalid_argument_becomes_the_shared_refusal_with_the_same_words_as_torch_service():
    error = from_status(grpc.StatusCode.INVALID_ARGUMENT, EAGER_ERROR, model="m")
    assert isinstance(error, InputRejected)
    assert to_status(error) == (grpc.StatusCode.INVALID_ARGUMENT, InputRejected("m", "").message)
    assert "reshape" not in to_status(error)[1]  # TensorFlow's own text goes to the log only


def test_client_side_codes_pass_through_with_the_message():
    for code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION,
                 grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.OUT_OF_RANGE):
        error = from_status(code, "Task size 9 is larger than maximum input batch size 8", model="m")
        assert isinstance(error, ServingError)
        assert to_status(error) == (code, "model 'm': Task size 9 is larger than maximum input batch size 8")


def test_server_faults_are_hidden_behind_a_reference():
    for code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS):
        error = from_status(code, "secret path /srv/model/weights corrupt", model="m")
        assert isinstance(error, ModelFailure)
        status, message = to_status(error)
        assert status == grpc.StatusCode.INTERNAL and "secret" not in message and "ref" in message
