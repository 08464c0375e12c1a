"""OIP v2 REST bodies <-> the backend's InferRequest / InferResult.

Request: a JSON object `{"id"?, "parameters"?, "inputs": [{name, datatype, shape, data |
parameters.binary_data_size}], "outputs"?: [{name, parameters?: {binary_data}}]}`. With the binary
tensor extension the body is that JSON (its length in the `Inference-Header-Content-Length` header)
followed by the binary inputs, in input order, each `binary_data_size` bytes (the raw form of the
gRPC API: little-endian, BYTES as 4-byte length prefixes). JSON `data` is row-major, flat or nested.

The JSON is turned into a `ModelInferRequest` message and decoded by `server_core.convert`, so both
transports share one set of rules and messages: JSON data becomes typed contents; when any input is
binary, every input becomes raw contents. Request parameters: `timeout` (microseconds, Triton's) sets
the deadline; `binary_data_output` (bool) asks for every output in binary.

Response: `{"model_name", "model_version", "id"?, "parameters"?, "outputs": [{name, datatype, shape,
data | parameters.binary_data_size}]}`; binary outputs follow the JSON and the response carries
`Inference-Header-Content-Length`. A BYTES output that is not UTF-8 is sent binary (JSON holds text).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

import numpy as np

from client import codec, datatypes, messages
from protos import grpc_predict_v2_pb2 as pb

from .. import convert
from ..backend import InferRequest, InferResult
from ..errors import InvalidArgument

HEADER_LENGTH = "Inference-Header-Content-Length"
BINARY_SIZE = "binary_data_size"
BINARY_OUTPUT = "binary_data_output"
TIMEOUT_US = "timeout"
_NO_CONTENTS_FIELD = ("FP16", "BF16")  # JSON numbers, sent on as raw bytes


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """(JSON header, binary section) of a request body."""
    if header_length is None:
        return body, b""
    try:
        n = int(header_length)
    except ValueError:
        raise InvalidArgument(f"{HEADER_LENGTH} must be an integer, got {header_length!r}") from None
    if not 0 < n <= len(body):
        raise InvalidArgument(f"{HEADER_LENGTH} is {n}, but the body holds {len(body)} bytes; it must be the "
                              "length of the JSON header at the start of the body")
    return body[:n], body[n:]


def parse_json(text: bytes, what: str = "request body") -> dict:
    try:
        value = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidArgument(f"malformed JSON in the {what}: {e}") from None
    if not isinstance(value, dict):
        raise InvalidArgument(f"the {what} must be a JSON object, got {type(value).__name__}")
    return value


def _flatten(data, label: str) -> list:
    if not isinstance(data, list):
        return [data]
    out: list = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            out.append(item)
        else:
            stack.pop()
    return out


def _json_values(label: str, datatype: str, data) -> list:
    values = _flatten(data, label)
    if datatype == "BYTES":
        if not all(isinstance(v, str) for v in values):
            raise InvalidArgument(f"{label}: BYTES 'data' must hold strings")
        return [v.encode("utf-8") for v in values]
    if datatype == "BOOL":
        if not all(isinstance(v, bool) for v in values):
            raise InvalidArgument(f"{label}: BOOL 'data' must hold true/false")
        return values
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise InvalidArgument(f"{label}: {datatype} 'data' must hold numbers")
    return values


def _parameters(target, params, label: str) -> None:
    if params is None:
        return
    if not isinstance(params, Mapping):
        raise InvalidArgument(f"{label}: 'parameters' must be a JSON object")
    for key, value in params.items():
        if not isinstance(value, (bool, int, float, str)):
            raise InvalidArgument(f"{label}: parameter '{key}' must be a bool, number or string")
        messages.set_parameter(target, key, value)


def _add_input(request: pb.ModelInferRequest, item, i: int, binary: memoryview, offset: int) -> tuple[bytes | None,
                                                                                                       int]:
    """Add input `i` to `request`; returns (its raw bytes or None for typed contents, new offset)."""
    if not isinstance(item, Mapping):
        raise InvalidArgument(f"inputs[{i}] must be a JSON object with name, datatype, shape and data")
    name, datatype, shape = item.get("name"), item.get("datatype"), item.get("shape")
    label = f"input '{name}'" if isinstance(name, str) and name else f"inputs[{i}]"
    if not isinstance(name, str) or not isinstance(datatype, str):
        raise InvalidArgument(f"{label}: 'name' and 'datatype' must be strings")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape):
        raise InvalidArgument(f"{label}: 'shape' must be a list of integers, got {shape!r}")
    tensor = request.inputs.add(name=name, datatype=datatype)
    try:
        tensor.shape.extend(shape)
    except ValueError:
        raise InvalidArgument(f"{label}: shape {shape} does not fit 64-bit integers") from None
    params = dict(item.get("parameters") or {}) if isinstance(item.get("parameters"), Mapping) else item.get(
        "parameters")
    size = params.pop(BINARY_SIZE, None) if isinstance(params, dict) else None
    _parameters(tensor.parameters, params, label)
    if size is not None:
        if "data" in item:
            raise InvalidArgument(f"{label}: has both 'data' and binary (raw) data ({BINARY_SIZE}); "
                                  "use one or the other")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise InvalidArgument(f"{label}: {BINARY_SIZE} must be a non-negative integer, got {size!r}")
        if offset + size > len(binary):
            raise InvalidArgument(f"{label}: {BINARY_SIZE} {size} runs past the binary data after the JSON header "
                                  f"({len(binary) - offset} bytes left); check {HEADER_LENGTH}")
        return bytes(binary[offset:offset + size]), offset + size
    if "data" not in item:
        raise InvalidArgument(f"{label}: has neither 'data' nor the {BINARY_SIZE} parameter")
    values = _json_values(label, datatype, item["data"])
    if datatype in _NO_CONTENTS_FIELD and datatype in datatypes.DATATYPES:
        dt = datatypes.lookup(datatype)
        count = math.prod(max(d, 0) for d in shape)
        if len(values) != count:
            raise InvalidArgument(f"{label}: 'data' holds {len(values)} values, {datatype} {codec.shape_str(shape)} "
                                  f"needs {count}")
        return np.asarray(values, dtype=dt.dtype).tobytes(), offset
    try:
        field = datatypes.lookup(datatype).contents_field
    except KeyError:
        return None, offset  # convert names the unknown datatype
    if field is not None:
        getattr(tensor.contents, field).extend(values)
    return None, offset


def _as_raw(request: pb.ModelInferRequest, raws: list[bytes | None]) -> None:
    """Every input as raw contents (some came binary): typed ones are decoded and re-encoded."""
    for tensor, raw in zip(request.inputs, raws):
        if raw is None:
            try:
                array = codec.decode_tensors([tensor], [], kind="input")[tensor.name]
            except codec.CodecError as e:
                raise InvalidArgument(str(e)) from None
            tensor.ClearField("contents")
            raw = (codec.serialize_bytes(list(array.reshape(-1))) if tensor.datatype == "BYTES"
                   else codec.to_wire_array(array)[1].tobytes())
        request.raw_input_contents.append(raw)


def infer_request(model: str, version: str, body: bytes, header_length: str | None) -> tuple[InferRequest, set[str],
                                                                                           bool]:
    """(the InferRequest, the outputs asked for in binary, all outputs binary) from a REST body."""
    head, binary = split_body(body, header_length)
    doc = parse_json(head)
    request = pb.ModelInferRequest(model_name=model, model_version=version)
    rid = doc.get("id", "")
    if not isinstance(rid, str):
        raise InvalidArgument("'id' must be a string")
    request.id = rid
    params = doc.get("parameters") or {}
    if not isinstance(params, Mapping):
        raise InvalidArgument("'parameters' must be a JSON object")
    params = dict(params)
    all_binary = params.pop(BINARY_OUTPUT, False) is True
    timeout_us = params.pop(TIMEOUT_US, None)
    if timeout_us is not None and (isinstance(timeout_us, bool) or not isinstance(timeout_us, (int, float))
                                   or timeout_us <= 0):
        raise InvalidArgument(f"parameter '{TIMEOUT_US}' must be a positive number of microseconds")
    _parameters(request.parameters, params, "request")
    inputs = doc.get("inputs")
    if not isinstance(inputs, list):
        raise InvalidArgument("'inputs' must be a list of tensors")
    view, offset, raws = memoryview(binary), 0, []
    for i, item in enumerate(inputs):
        raw, offset = _add_input(request, item, i, view, offset)
        raws.append(raw)
    if offset != len(binary):
        raise InvalidArgument(f"{len(binary) - offset} bytes of binary data after the JSON header belong to no "
                              f"input (the inputs' {BINARY_SIZE} add up to {offset}); check {HEADER_LENGTH}")
    if any(r is not None for r in raws):
        _as_raw(request, raws)
    binary_outputs: set[str] = set()
    outputs = doc.get("outputs") or []
    if not isinstance(outputs, list):
        raise InvalidArgument("'outputs' must be a list of {name, parameters}")
    for i, item in enumerate(outputs):
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise InvalidArgument(f"outputs[{i}] must be a JSON object with a 'name'")
        out_params = item.get("parameters") or {}
        if not isinstance(out_params, Mapping):
            raise InvalidArgument(f"output '{item['name']}': 'parameters' must be a JSON object")
        if out_params.get("binary_data") is True:
            binary_outputs.add(item["name"])
        request.outputs.add(name=item["name"])
    decoded = convert.infer_request(request, None if timeout_us is None else timeout_us / 1e6)
    return decoded, binary_outputs, all_binary




def infer_response(result: InferResult, binary_outputs: set[str], all_binary: bool) -> tuple[bytes, int | None]:
    """(body, JSON header length when binary outputs follow it, else None)."""
    outputs, chunks = [], []
    for name, value in result.outputs.items():
        datatype, array = codec.to_wire_array(value)
        entry: dict = {"name": name, "datatype": datatype, "shape": list(array.shape)}
        data = None if (all_binary or name in binary_outputs) else codec.json_values(datatype, array)
        if data is None:
            raw = (codec.serialize_bytes([e if isinstance(e, bytes) else str(e).encode() for e in array.reshape(-1)])
                   if datatype == "BYTES" else array.tobytes())
            entry["parameters"] = {BINARY_SIZE: len(raw)}
            chunks.append(raw)
        else:
            entry["data"] = data
        outputs.append(entry)
    doc: dict = {"model_name": result.model, "model_version": result.version, "outputs": outputs}
    if result.id:
        doc["id"] = result.id
    if result.parameters:
        doc["parameters"] = dict(result.parameters)
    head = json.dumps(doc, separators=(",", ":")).encode()
    if not chunks:
        return head, None
    return b"".join([head, *chunks]), len(head)

