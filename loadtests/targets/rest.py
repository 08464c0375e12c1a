"""`http://HOST:PORT[?encoding=json|binary][&token_env=VAR]`: any Open Inference Protocol v2 REST server (KServe's
"V2" HTTP/JSON API: Tandem's services started with `--http-port`, Triton, KServe, MLServer).

One `POST /v2/models/{m}[/versions/{v}]/infer` per request, over one keep-alive connection per user
(geventhttpclient, the HTTP client of Locust's FastHttpUser: it yields to other greenlets inside
Locust and simply blocks outside it). The body is built once before the load, like every kind's:

- `encoding=json` (default): every tensor as JSON `data` (flat, row-major), answers asked as JSON:
  what `curl` and most REST clients send;
- `encoding=binary`: Triton's binary-tensor extension (the JSON header, its length in
  `Inference-Header-Content-Length`, then raw little-endian tensors), answers asked binary.

The timed call includes reading and parsing the answer's JSON (as a gRPC call includes parsing the
protobuf); turning it into arrays is the answer check's part. Signature from `GET /v2/models/{m}`,
liveness from `GET /v2/health/live`, server time from `GET .../stats` and `.../config` (Triton's
JSON forms of ModelStatistics and ModelConfig), so the report splits a REST target's server time
like a gRPC one's. HTTP errors are grouped under the gRPC status name the OIP mapping gives them
(400 INVALID_ARGUMENT, 404 NOT_FOUND, 503 UNAVAILABLE, ...; `HTTP_<status>` otherwise), the
message being `HTTP <status>: <the server's "error">`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http.client import HTTPException
from urllib.parse import quote

import numpy as np

from client import codec, datatypes
from client.messages import ModelMetadata, TensorSpec
from protos import grpc_predict_v2_pb2 as pb

from .base import TOKEN_ENV, TOKEN_ENV_HELP, CallError, Target, TargetError, bearer_token

HEADER_LENGTH = "Inference-Header-Content-Length"
ENCODINGS = ("json", "binary")
CODES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
         409: "ABORTED", 413: "RESOURCE_EXHAUSTED", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED",
         500: "INTERNAL", 501: "UNIMPLEMENTED", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
CONNECT_TIMEOUT_S = 5.0


def model_path(model: str, version: str = "") -> str:
    return f"/v2/models/{quote(model, safe='')}" + (f"/versions/{quote(version, safe='')}" if version else "")


class Answer:
    """One HTTP answer: status, the Inference-Header-Content-Length header (or None), the body."""

    __slots__ = ("status", "header_length", "body")

    def __init__(self, status: int, header_length: str | None, body: bytes):
        self.status, self.header_length, self.body = status, header_length, body

    def error(self) -> CallError:
        try:
            message = str(json.loads(self.body)["error"])
        except (ValueError, KeyError, TypeError):
            message = self.body[:200].decode("utf-8", "replace")
        return CallError(CODES.get(self.status, f"HTTP_{self.status}"), f"HTTP {self.status}: {message}")

    def json(self) -> dict:
        """The JSON document (the header part when binary tensors follow); CallError when it is not."""
        head = self.body
        if self.header_length is not None:
            try:
                head = self.body[:int(self.header_length)]
            except ValueError:
                raise CallError("BAD_RESPONSE", f"{HEADER_LENGTH} is not a number: "
                                                f"{self.header_length!r}") from None
        try:
            doc = json.loads(head)
        except ValueError as e:
            raise CallError("BAD_RESPONSE", f"the answer is not JSON: {e}") from None
        if not isinstance(doc, dict):
            raise CallError("BAD_RESPONSE", "the answer is not a JSON object")
        return doc


class Connection:
    """One keep-alive HTTP/1.1 connection to HOST:PORT; every call bounded by its timeout."""

    @classmethod
    def to(cls, target: Target, timeout: float) -> Connection:
        """A connection to the target, sending its `?token_env=` token (if any) on every request."""
        return cls(target.address, timeout, bearer_token(target.params))

    def __init__(self, address: str, timeout: float, token: str | None = None):
        from geventhttpclient import HTTPClient  # late: imports gevent (not needed by other kinds)

        self._auth = {"Authorization": f"Bearer {token}"} if token else {}
        host, _, port = address.rpartition(":")
        self._client = HTTPClient(host.strip("[]"), int(port), connection_timeout=min(timeout, CONNECT_TIMEOUT_S),
                                  network_timeout=timeout, concurrency=1)

    def request(self, method: str, path: str, timeout: float, body: bytes = b"",
                headers: Mapping[str, str] | None = None) -> Answer:
        """The answer, whatever its status; CallError when none came (UNAVAILABLE, DEADLINE_EXCEEDED)."""
        import gevent

        try:
            with gevent.Timeout(timeout):
                response = self._client.request(method, path, body=body, headers={**self._auth, **(headers or {})})
                try:
                    data = response.read()
                finally:
                    response.release()
        except gevent.Timeout:
            raise CallError("DEADLINE_EXCEEDED", f"no answer within {timeout:g} s") from None
        except (OSError, HTTPException) as e:  # refused, reset, closed mid-answer, unparsable HTTP
            raise CallError("UNAVAILABLE", f"{type(e).__name__}: {e}") from None
        length = response.get(HEADER_LENGTH)
        return Answer(response.status_code, length if length is None or isinstance(length, str) else length[0], data)

    def get_json(self, path: str, timeout: float) -> dict:
        answer = self.request("GET", path, timeout)
        if answer.status != 200:
            raise answer.error()
        return answer.json()

    def close(self) -> None:
        self._client.close()


# -- bodies -------------------------------------------------------------------------------------------



def _raw(datatype: str, array: np.ndarray) -> bytes:
    if datatype == "BYTES":
        return codec.serialize_bytes([e if isinstance(e, bytes) else str(e).encode() for e in array.reshape(-1)])
    return array.tobytes()


def infer_body(inputs: Mapping[str, np.ndarray], binary: bool) -> tuple[bytes, dict[str, str]]:
    """(body, headers) of an infer request."""
    entries, chunks = [], []
    for name, value in inputs.items():
        datatype, array = codec.to_wire_array(value)
        entry: dict = {"name": name, "datatype": datatype, "shape": list(array.shape)}
        data = None if binary else codec.json_values(datatype, array)
        if data is None:
            chunk = _raw(datatype, array)
            entry["parameters"] = {"binary_data_size": len(chunk)}
            chunks.append(chunk)
        else:
            entry["data"] = data
        entries.append(entry)
    doc = {"inputs": entries, "parameters": {"binary_data_output": binary}}
    head = json.dumps(doc, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json"}
    if chunks:
        headers[HEADER_LENGTH] = str(len(head))
    return head + b"".join(chunks), headers


def outputs(doc: dict, answer: Answer) -> dict[str, np.ndarray]:
    """The output arrays of an infer answer; ValueError / CodecError when they cannot be read."""
    binary = answer.body[int(answer.header_length):] if answer.header_length is not None else b""
    offset, out = 0, {}
    for entry in doc.get("outputs") or []:
        name, datatype, shape = entry["name"], entry["datatype"], entry["shape"]
        size = (entry.get("parameters") or {}).get("binary_data_size")
        if size is not None:
            if offset + size > len(binary):
                raise ValueError(f"output '{name}': binary_data_size {size} runs past the answer")
            tensor = pb.ModelInferResponse.InferOutputTensor(name=name, datatype=datatype, shape=shape)
            out.update(codec.decode_tensors([tensor], [binary[offset:offset + size]], kind="output"))
            offset += size
            continue
        dt = datatypes.lookup(datatype)
        if dt.dtype is None:  # BYTES: JSON strings
            array = np.array([s.encode("utf-8") for s in entry["data"]], dtype=object)
        else:
            wire = np.float32 if dt.contents_field is None else dt.dtype.newbyteorder("=")
            array = np.asarray(entry["data"], dtype=wire).astype(dt.dtype.newbyteorder("="))
        out[name] = array.reshape(shape)
    return out


def metadata_of(doc: dict) -> ModelMetadata:
    def specs(items):
        return tuple(TensorSpec(t["name"], t["datatype"], tuple(int(d) for d in t["shape"])) for t in items)
    return ModelMetadata(doc["name"], tuple(doc.get("versions") or ()), doc.get("platform", ""),
                         specs(doc.get("inputs") or ()), specs(doc.get("outputs") or ()),
                         dict(doc.get("properties") or {}))


# -- the kind -----------------------------------------------------------------------------------------

class RestCaller:
    def __init__(self, target: Target, model: str, version: str, deadline_s: float):
        self._connection = Connection.to(target, deadline_s)
        self._path = model_path(model, version) + "/infer"
        self._binary = target.params.get("encoding", "json") == "binary"

    def encode(self, inputs: Mapping[str, np.ndarray]):
        return infer_body(inputs, self._binary)

    def call(self, request, timeout: float):
        body, headers = request
        answer = self._connection.request("POST", self._path, timeout, body, headers)
        if answer.status != 200:
            raise answer.error()
        return (answer.json(), answer), len(answer.body)

    def decode(self, response) -> dict[str, np.ndarray]:
        doc, answer = response
        try:
            return outputs(doc, answer)
        except (ValueError, KeyError, TypeError) as e:  # CodecError is a ValueError
            raise CallError("BAD_RESPONSE", f"the answer's outputs cannot be read: {e}") from None

    def live(self, timeout: float) -> bool:
        answer = self._connection.request("GET", "/v2/health/live", timeout)
        if answer.status not in (200, 503):
            raise answer.error()
        return answer.status == 200

    def close(self) -> None:
        self._connection.close()


class RestKind:
    scheme = "http"
    summary = "any OIP v2 REST server (Tandem's services with --http-port, Triton, KServe; ?encoding=json|binary)"
    params: Mapping[str, str] = {"encoding": "tensors as JSON data (json, default) or Triton's binary extension "
                                             "(binary)", TOKEN_ENV: TOKEN_ENV_HELP}
    reports_server_time = True

    def check_params(self, params: Mapping[str, str]) -> None:
        bearer_token(params)
        if params.get("encoding", "json") not in ENCODINGS:
            raise ValueError(f"encoding={params['encoding']!r}; expected one of {', '.join(ENCODINGS)}")

    def metadata(self, target: Target, model: str, version: str, timeout: float) -> ModelMetadata:
        where = target.where()
        connection = Connection.to(target, timeout)
        try:
            try:
                live = connection.request("GET", "/v2/health/live", timeout)
            except CallError as e:
                raise TargetError(f"{where} is not reachable: {e.code}: {e.message}. Is the server's HTTP "
                                  "port (e.g. --http-port) at that address?") from None
            if live.status != 200:
                raise TargetError(f"{where} does not answer GET /v2/health/live with 200 (HTTP {live.status}): "
                                  "is it an OIP v2 REST server?")
            try:
                if connection.request("GET", "/v2/health/ready", timeout).status != 200:
                    raise TargetError(f"{where} is up but not ready (still loading?); try again when its "
                                      "readiness check passes")
                path = model_path(model, version)
                answer = connection.request("GET", path, timeout)
                if answer.status == 404:
                    raise TargetError(f"{where} does not serve model '{model}'"
                                      f"{' version ' + version if version else ''}: {answer.error().message}")
                if answer.status != 200:
                    raise TargetError(f"{where}: GET {path}: {answer.error().message}")
                meta = metadata_of(answer.json())
                if connection.request("GET", path + "/ready", timeout).status != 200:
                    raise TargetError(f"{where}: model '{model}' is known but not ready")
            except CallError as e:
                raise TargetError(f"{where}: {e.code}: {e.message}") from None
            except (KeyError, TypeError, ValueError) as e:
                raise TargetError(f"{where}: the model's metadata is not OIP v2 JSON: {e}") from None
        finally:
            connection.close()
        return meta

    def open(self, target: Target, model: str, version: str, meta: ModelMetadata, deadline_s: float) -> RestCaller:
        return RestCaller(target, model, version, deadline_s)

    def statistics(self, target: Target, model: str, version: str, timeout: float):
        from google.protobuf import json_format

        doc = self._get(target, model_path(model, version) + "/stats", timeout)
        if doc is None:
            return None
        try:
            return json_format.ParseDict(doc, pb.ModelStatisticsResponse(), ignore_unknown_fields=True)
        except json_format.ParseError:
            return None

    def model_config(self, target: Target, model: str, version: str, timeout: float):
        from google.protobuf import json_format

        doc = self._get(target, model_path(model, version) + "/config", timeout)
        if doc is None:
            return None
        try:  # Triton answers the ModelConfig itself; some servers wrap it as {"config": ...}
            return json_format.ParseDict(doc.get("config", doc), pb.ModelConfig(), ignore_unknown_fields=True)
        except json_format.ParseError:
            return None

    @staticmethod
    def _get(target: Target, path: str, timeout: float) -> dict | None:
        connection = Connection.to(target, timeout)
        try:
            return connection.get_json(path, timeout)
        except CallError:
            return None
        finally:
            connection.close()
