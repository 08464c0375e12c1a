"""The conformance suite's REST transport: the sync and asyncio client interface the test bodies use
(`client.InferenceClient` / `AsyncInferenceClient`), spoken as OIP v2 REST, and `call()`, which sends
a protobuf request the way a REST client would send it. HTTP statuses come back as the client's typed
errors through the inverse of the server's one table (server_core.rest.errors.HTTP_STATUS).

`raw=True` sends tensors with the binary extension and asks for binary outputs; `raw=False` sends
JSON `data` (binary only for BYTES that are not UTF-8, which JSON cannot carry) and asks for JSON."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import grpc
import numpy as np
import pytest
from google.protobuf import json_format

from client import codec, datatypes
from client import errors as client_errors
from client.messages import ModelIndexEntry, ModelMetadata, TensorSpec
from protos import grpc_predict_v2_pb2 as pb
from server_core.rest.errors import HTTP_STATUS

HEADER = "Inference-Header-Content-Length"
NO_STREAMING = "ModelStreamInfer has no REST equivalent (OIP v2 REST is request/response)"
_CODE = {}
for _code, _status in HTTP_STATUS.items():
    _CODE.setdefault(_status, _code)
_CODE.update({413: grpc.StatusCode.RESOURCE_EXHAUSTED, 500: grpc.StatusCode.INTERNAL})


def _error(status: int, body: bytes) -> client_errors.InferenceError:
    try:
        message = json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        message = body.decode(errors="replace")
    code = _CODE.get(status, grpc.StatusCode.UNKNOWN)
    return client_errors._BY_CODE.get(code, client_errors.ServerError)(code, message)


# ------------------------------------------------------------------ request / response bodies



def infer_body(inputs: dict, *, raw: bool, outputs=None, timeout: float | None = None) -> tuple[bytes, dict]:
    """(body, headers) of an infer request for {name: array}."""
    entries, chunks = [], []
    for name, value in inputs.items():
        datatype, array = codec.to_wire_array(value)
        entry = {"name": name, "datatype": datatype, "shape": list(array.shape)}
        if not raw and datatypes.lookup(datatype).contents_field is None:
            raise codec.CodecError(f"tensor '{name}': {datatype} can only be sent as raw (binary) data")
        data = None if raw else codec.json_values(datatype, array)
        if data is None:
            chunk = (codec.serialize_bytes([e if isinstance(e, bytes) else str(e).encode() for e in array.reshape(-1)])
                     if datatype == "BYTES" else array.tobytes())
            entry["parameters"] = {"binary_data_size": len(chunk)}
            chunks.append(chunk)
        else:
            entry["data"] = data
        entries.append(entry)
    doc: dict = {"inputs": entries, "parameters": {}}
    if outputs:
        doc["outputs"] = [{"name": n, "parameters": {"binary_data": raw}} for n in outputs]
    else:
        doc["parameters"]["binary_data_output"] = raw
    if timeout is not None:
        doc["parameters"]["timeout"] = int(timeout * 1e6)
    head = json.dumps(doc).encode()
    headers = {"Content-Type": "application/json"}
    if chunks:
        headers[HEADER] = str(len(head))
    return head + b"".join(chunks), headers


def infer_outputs(body: bytes, header_length: str | None) -> dict[str, np.ndarray]:
    n = int(header_length) if header_length is not None else len(body)
    doc, binary, offset = json.loads(body[:n]), body[n:], 0
    out = {}
    for entry in doc["outputs"]:
        tensor = pb.ModelInferResponse.InferOutputTensor(name=entry["name"], datatype=entry["datatype"],
                                                          shape=entry["shape"])
        size = (entry.get("parameters") or {}).get("binary_data_size")
        if size is not None:
            out.update(codec.decode_tensors([tensor], [binary[offset:offset + size]], kind="output"))
            offset += size
            continue
        dt = datatypes.lookup(entry["datatype"])
        if dt.name == "BYTES":
            array = np.array([s.encode() for s in entry["data"]], dtype=object)
        else:
            array = np.asarray(entry["data"], dtype=np.float32 if dt.contents_field is None else dt.dtype)
            array = array.astype(dt.dtype.newbyteorder("="))
        out[entry["name"]] = array.reshape(entry["shape"])
    return out


def _model_path(model: str, version: str = "") -> str:
    return f"/v2/models/{model}" + (f"/versions/{version}" if version else "")


def _metadata(doc) -> ModelMetadata:
    def specs(items):
        return tuple(TensorSpec(t["name"], t["datatype"], tuple(t["shape"])) for t in items)
    return ModelMetadata(doc["name"], tuple(doc["versions"]), doc["platform"], specs(doc["inputs"]),
                         specs(doc["outputs"]), doc.get("properties", {}))


# ------------------------------------------------------------------ the sync client

class RestClient:
    def __init__(self, address: str, token: str | None = None, timeout: float = 30.0, **grpc_only):
        self.base = f"http://{address}"
        self.token = token
        self.timeout = timeout

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def close(self):
        pass

    def _send(self, method: str, path: str, body: bytes | None = None, headers=None,
              timeout: float | None = None, ok=(200,)) -> tuple[int, bytes, dict]:
        headers = dict(headers or {})
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.base + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as r:
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            data = e.read()
            if e.code in ok:
                return e.code, data, dict(e.headers)
            raise _error(e.code, data) from None
        except TimeoutError:
            raise client_errors.DeadlineExceededError(grpc.StatusCode.DEADLINE_EXCEEDED, "client timeout") from None

    def _json(self, method, path, doc=None, **kw):
        body = None if doc is None else json.dumps(doc).encode()
        return json.loads(self._send(method, path, body, {"Content-Type": "application/json"}, **kw)[1])

    def _flag(self, path) -> bool:
        return self._send("GET", path, ok=(200, 503))[0] == 200

    def is_server_live(self):
        return self._flag("/v2/health/live")

    def is_server_ready(self):
        return self._flag("/v2/health/ready")

    def is_model_ready(self, model, version=""):
        return self._flag(_model_path(model, version) + "/ready")

    def server_metadata(self):
        return self._json("GET", "/v2")

    def model_metadata(self, model, version=""):
        return _metadata(self._json("GET", _model_path(model, version)))

    def model_config(self, model, version=""):
        return self._json("GET", _model_path(model, version) + "/config")

    def infer(self, model, inputs, *, version="", outputs=None, raw=True, timeout=None):
        body, headers = infer_body(inputs, raw=raw, outputs=outputs, timeout=timeout)
        _, data, response_headers = self._send("POST", _model_path(model, version) + "/infer", body, headers,
                                               timeout=None if timeout is None else timeout + 5)
        return infer_outputs(data, response_headers.get(HEADER))

    def stream_infer(self, *args, **kwargs):
        pytest.skip(NO_STREAMING)

    def repository_index(self, ready_only=False):
        return [ModelIndexEntry(e["name"], e["version"], e["state"], e["reason"])
                for e in self._json("POST", "/v2/repository/index", {"ready": ready_only})]

    def load_model(self, model):
        self._json("POST", f"/v2/repository/models/{model}/load", {})

    def unload_model(self, model):
        self._json("POST", f"/v2/repository/models/{model}/unload", {})

    def statistics(self, model="", version=""):
        path = (_model_path(model, version) if model else "/v2/models") + "/stats"
        return json_format.ParseDict(self._json("GET", path), pb.ModelStatisticsResponse())


# ------------------------------------------------------------------ the asyncio client

class AsyncRestClient:
    def __init__(self, address: str, token: str | None = None, timeout: float = 30.0, **grpc_only):
        self.base = f"http://{address}"
        self.token = token
        self.timeout = timeout
        self._session = None

    async def __aenter__(self):
        import aiohttp

        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self

    async def __aexit__(self, *exc):
        await self._session.close()

    async def _send(self, method, path, body=None, headers=None, ok=(200,)):
        headers = dict(headers or {})
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        async with self._session.request(method, self.base + path, data=body, headers=headers) as r:
            data = await r.read()
            if r.status not in ok:
                raise _error(r.status, data)
            return r.status, data, dict(r.headers)

    async def _json(self, method, path, doc=None):
        body = None if doc is None else json.dumps(doc).encode()
        return json.loads((await self._send(method, path, body, {"Content-Type": "application/json"}))[1])

    async def _flag(self, path):
        return (await self._send("GET", path, ok=(200, 503)))[0] == 200

    async def is_server_live(self):
        return await self._flag("/v2/health/live")

    async def is_server_ready(self):
        return await self._flag("/v2/health/ready")

    async def is_model_ready(self, model, version=""):
        return await self._flag(_model_path(model, version) + "/ready")

    async def server_metadata(self):
        return await self._json("GET", "/v2")

    async def model_metadata(self, model, version=""):
        return _metadata(await self._json("GET", _model_path(model, version)))

    async def infer(self, model, inputs, *, version="", outputs=None, raw=True, timeout=None):
        body, headers = infer_body(inputs, raw=raw, outputs=outputs, timeout=timeout)
        _, data, response_headers = await self._send("POST", _model_path(model, version) + "/infer", body, headers)
        return infer_outputs(data, response_headers.get(HEADER))

    async def stream_infer(self, *args, **kwargs):
        pytest.skip(NO_STREAMING)
        yield  # an async generator, like the gRPC client's

    async def repository_index(self, ready_only=False):
        return [ModelIndexEntry(e["name"], e["version"], e["state"], e["reason"])
                for e in await self._json("POST", "/v2/repository/index", {"ready": ready_only})]

    async def statistics(self, model="", version=""):
        path = (_model_path(model, version) if model else "/v2/models") + "/stats"
        return json_format.ParseDict(await self._json("GET", path), pb.ModelStatisticsResponse())


# ------------------------------------------------------------------ raw protobuf requests over REST

class RestCallError(grpc.RpcError):
    """A failed REST call, read like a grpc.RpcError: code() from the HTTP status, details() the error."""

    def __init__(self, error: client_errors.InferenceError):
        super().__init__(error.message)
        self._error = error

    def code(self):
        return self._error.code

    def details(self):
        return self._error.message


def _typed_values(tensor) -> list:
    contents = tensor.contents
    for field in ("bool_contents", "int_contents", "int64_contents", "uint_contents", "uint64_contents",
                  "fp32_contents", "fp64_contents", "bytes_contents"):
        values = list(getattr(contents, field))
        if values:
            return [v.decode("utf-8", "replace") for v in values] if field == "bytes_contents" else values
    return []


def _infer_from_proto(request: pb.ModelInferRequest) -> tuple[str, bytes, dict]:
    """A ModelInferRequest as a REST client would send it: raw contents as binary data, typed contents
    as JSON `data`, both when the message has both."""
    entries, chunks = [], []
    for i, t in enumerate(request.inputs):
        entry: dict = {"name": t.name, "datatype": t.datatype, "shape": list(t.shape)}
        if i < len(request.raw_input_contents):
            entry["parameters"] = {"binary_data_size": len(request.raw_input_contents[i])}
            chunks.append(request.raw_input_contents[i])
        if t.HasField("contents") or i >= len(request.raw_input_contents):
            values = _typed_values(t)
            if values or "parameters" not in entry:
                entry["data"] = values
        entries.append(entry)
    doc = {"inputs": entries, "outputs": [{"name": o.name} for o in request.outputs]}
    head = json.dumps(doc).encode()
    headers = {"Content-Type": "application/json"}
    if chunks:
        headers[HEADER] = str(len(head))
    path = _model_path(request.model_name, request.model_version) + "/infer"
    return path, head + b"".join(chunks), headers


def call(address: str, token: str | None, request, rpc: str, timeout: float):
    c = RestClient(address, token=token, timeout=timeout)
    try:
        if rpc == "ModelInfer":
            path, body, headers = _infer_from_proto(request)
            return c._send("POST", path, body, headers)
        if rpc == "ModelMetadata":
            return c.model_metadata(request.name, request.version)
        if rpc == "ModelStatistics":
            return c.statistics(request.name, request.version)
    except client_errors.InferenceError as e:
        raise RestCallError(e) from None
    raise NotImplementedError(f"{rpc} over REST in the conformance adapter")
