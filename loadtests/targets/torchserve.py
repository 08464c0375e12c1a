"""`torchserve://HOST:PORT?model=NAME&encoding=json|npy`: a stock TorchServe through its own gRPC
inference API (`org.pytorch.serve.grpc.inference.InferenceAPIsService`, port 7070 by default;
stubs vendored in `loadtests.targets.vendor`).

TorchServe's API states no signature, so the inputs come from the comparison's other targets (or
`--inputs`), and its handler must take them in one of two payload encodings:

- `encoding=json` (default): `PredictionsRequest.input[<input name>]` is the tensor as a JSON nested
  list (BYTES elements as UTF-8 strings); the prediction is a JSON object `{<output name>: nested
  list}` or, for a one-output model, a bare nested list.
- `encoding=npy`: each input is a `.npy` file's bytes (`numpy.save`); the prediction is one `.npy`
  (a one-output model) or an `.npz` keyed by output name.

`model=` is the model's name in TorchServe (default: the comparison's `--model`); `version=` its
version (default: TorchServe's default version). Liveness is `Ping`. A handler that expects another
payload fails the preflight's trial request: the comparison stops before any load and says so.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping

import grpc
import numpy as np
from google.protobuf import empty_pb2

from client.messages import ModelMetadata

from .base import CallError, NoServerTime, Target, TargetError
from .vendor import torchserve_inference_pb2 as ts_pb
from .vendor import torchserve_inference_pb2_grpc as ts_grpc

ENCODINGS = ("json", "npy")
NPY_MAGIC = b"\x93NUMPY"


def _json_array(array: np.ndarray) -> bytes:
    if array.dtype.kind in "OSU":
        array = np.vectorize(lambda v: v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v),
                             otypes=[object])(array)
    return json.dumps(array.tolist()).encode()


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


class TorchServeCaller:
    def __init__(self, target: Target, model: str, version: str, meta: ModelMetadata, deadline_s: float):
        self.model = target.params.get("model") or model
        self.version = target.params.get("version", "")
        self.encoding = target.params.get("encoding", "json")
        self.outputs = [s.name for s in meta.outputs]
        self._channel = grpc.insecure_channel(target.address)
        self._stub = ts_grpc.InferenceAPIsServiceStub(self._channel)
        self._deadline = deadline_s

    def encode(self, inputs: Mapping[str, np.ndarray]):
        pack = _json_array if self.encoding == "json" else _npy
        return ts_pb.PredictionsRequest(model_name=self.model, model_version=self.version,
                                        input={k: pack(np.asarray(v)) for k, v in inputs.items()})

    def call(self, request, timeout: float):
        try:
            response = self._stub.Predictions(request, timeout=timeout)
        except grpc.RpcError as e:
            raise CallError(e.code().name, (e.details() or "").strip().splitlines()[0] if e.details() else "") from None
        return response, len(response.prediction)

    def _single(self, value) -> dict[str, np.ndarray]:
        name = self.outputs[0] if len(self.outputs) == 1 else "prediction"
        return {name: np.asarray(value)}

    def decode(self, response) -> dict[str, np.ndarray]:
        data = response.prediction
        try:
            if self.encoding == "json":
                doc = json.loads(data)
                if isinstance(doc, dict):
                    return {k: np.asarray(v) for k, v in doc.items()}
                return self._single(doc)
            if data.startswith(NPY_MAGIC):
                return self._single(np.load(io.BytesIO(data), allow_pickle=False))
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (ValueError, OSError) as e:
            raise CallError("BAD_RESPONSE", f"the prediction is not {self.encoding} as expected: {e}") from None

    def live(self, timeout: float) -> bool:
        try:
            health = self._stub.Ping(empty_pb2.Empty(), timeout=timeout).health
        except grpc.RpcError as e:
            raise CallError(e.code().name, e.details() or "") from None
        try:
            return json.loads(health).get("status") == "Healthy"
        except (ValueError, AttributeError):
            return False

    def close(self) -> None:
        self._channel.close()


class TorchServeKind(NoServerTime):
    scheme = "torchserve"
    summary = "a stock TorchServe's gRPC inference API (?model=NAME&encoding=json|npy)"
    params: Mapping[str, str] = {"model": "the model's name in TorchServe (default: --model)",
                                 "version": "its version (default: TorchServe's default)",
                                 "encoding": "payload encoding of the handler: json (default) or npy"}

    def check_params(self, params: Mapping[str, str]) -> None:
        if params.get("encoding", "json") not in ENCODINGS:
            raise ValueError(f"encoding={params['encoding']!r}; expected one of {', '.join(ENCODINGS)}")

    def metadata(self, target: Target, model: str, version: str, timeout: float) -> None:
        channel = grpc.insecure_channel(target.address)
        try:
            ts_grpc.InferenceAPIsServiceStub(channel).Ping(empty_pb2.Empty(), timeout=timeout)
        except grpc.RpcError as e:
            raise TargetError(f"{target.where()} is not reachable: {e.code().name}: {e.details()}. Is "
                              "TorchServe's gRPC inference port (7070 by default) at that address?") from None
        finally:
            channel.close()
        return None  # TorchServe states no signature

    def open(self, target: Target, model: str, version: str, meta: ModelMetadata,
             deadline_s: float) -> TorchServeCaller:
        return TorchServeCaller(target, model, version, meta, deadline_s)
