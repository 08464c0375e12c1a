"""TensorFlow's statuses -> the servers' one error type, the same way for both backends.

A failed op in the embedded runtime (`tf.errors.OpError`) and a failed Predict from TF Serving carry
the same canonical code and message, so both become the same ServingError: INVALID_ARGUMENT (the
request's content refused by the model after the shared contract checks passed) becomes
`server_core.contract.InputRejected`, in the words torch_service uses, TF's text going to the log;
other client-side codes pass through with TF's message (cleaned of graph-node noise); server faults
(INTERNAL, UNKNOWN, DATA_LOSS) become `ModelFailure`, which the server core answers as INTERNAL with
a generic message and logs.
"""

from __future__ import annotations

import re

import grpc

from server_core.contract import InputRejected
from server_core.errors import ServingError

_BY_VALUE = {code.value[0]: code for code in grpc.StatusCode}
_HIDDEN = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS}
_NOISE = (
    re.compile(r"\s*\[\[(\{\{[^}]*\}\})+\]\]"),  # \t [[{{function_node f}}{{node X}}]]
    re.compile(r"\{\{[^}]*\}\}\s*"),  # {{function_node ...}} prefixes
    re.compile(r"\s*\[Op:[^\]]*\](\s*name:\s*\S*)?"),  # [Op:__inference_...] name:
)
MAX_MESSAGE = 500


class ModelFailure(RuntimeError):
    """The model failed on the server's side; its detail is for the log, never for the caller."""


def status_code(value: int) -> grpc.StatusCode:
    return _BY_VALUE.get(int(value), grpc.StatusCode.UNKNOWN)


def clean_message(message: str) -> str:
    """TF's error text without the graph-execution preamble, stack lines and node annotations."""
    lines = []
    skipping_stack = False
    for line in message.splitlines():
        stripped = line.strip()
        if stripped.startswith(("Detected at node", "Graph execution error")):
            skipping_stack = stripped.startswith("Detected at node")
            continue
        if skipping_stack and (not stripped or stripped.startswith(("File ", "<stack traces")) or line[:1].isspace()):
            continue
        skipping_stack = False
        for pattern in _NOISE:
            line = pattern.sub("", line)
        if line.strip():
            lines.append(line.strip())
    text = " ".join(lines) or message.strip()
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + "..."


def from_status(code: grpc.StatusCode, message: str, *, model: str, inference: bool = True) -> Exception:
    """The exception to raise for a TF status (the caller raises it). `inference`: the status answers
    a model run, so INVALID_ARGUMENT means the request's inputs (not, say, a config reload)."""
    if code in _HIDDEN:
        return ModelFailure(f"model '{model}' failed ({code.name}): {message}")
    if code == grpc.StatusCode.INVALID_ARGUMENT and inference:
        return InputRejected(model, clean_message(message))
    return ServingError(f"model '{model}': {clean_message(message)}", code=code)


def from_op_error(exc, *, model: str) -> Exception:
    """The exception for a `tf.errors.OpError` raised by the embedded runtime."""
    return from_status(status_code(exc.error_code), exc.message, model=model)
