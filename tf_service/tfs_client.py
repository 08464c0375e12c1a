"""TF Serving's own gRPC API (tensorflow_serving.apis), all on the event loop (grpc.aio stubs on one
channel created on first use): Predict with the caller's deadline as timeout, status / metadata /
config reload with a fixed one.
Every failure becomes a ServingError: TF Serving down -> UNAVAILABLE naming the address; TF
Serving's own statuses pass through with their messages (see errors.from_status).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import grpc
import numpy as np
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from server_core.errors import DeadlineExceeded, ServingError, Unavailable

from .errors import ModelFailure, from_status, status_code
from .tensors import TensorProtoError, from_tensor_proto, to_tensor_proto

_OPTIONS = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1),
            ("grpc.enable_retries", 0), ("grpc.initial_reconnect_backoff_ms", 200),
            ("grpc.max_reconnect_backoff_ms", 2000)]
STATES = {v: k for k, v in get_model_status_pb2.ModelVersionStatus.State.items()}
CONTROL_TIMEOUT_S = 10.0
UNBOUNDED_PREDICT_TIMEOUT_S = 600.0  # for callers that set no deadline: a hung server frees the slot


@dataclass(frozen=True)
class VersionStatus:
    version: int
    state: str  # TF Serving's: START, LOADING, AVAILABLE, UNLOADING, END, UNKNOWN
    error_code: int
    error_message: str


class TFServingClient:
    def __init__(self, address: str):
        self.address = address
        self._aio: grpc.aio.Channel | None = None
        self._predict = None

    def _aio_channel(self) -> grpc.aio.Channel:
        if self._aio is None:  # created on the server's event loop, on first use
            self._aio = grpc.aio.insecure_channel(self.address, options=_OPTIONS)
        return self._aio

    def _predict_call(self):
        if self._predict is None:
            self._predict = prediction_service_pb2_grpc.PredictionServiceStub(self._aio_channel()).Predict
        return self._predict

    async def close(self) -> None:
        if self._aio is not None:
            await self._aio.close()

    # ------------------------------------------------------------------ errors
    def unreachable(self, detail: str = "") -> Unavailable:
        return Unavailable(f"TF Serving at {self.address} is unavailable" + (f": {detail}" if detail else ""))

    def _error(self, exc: grpc.RpcError, model: str, what: str, *, inference: bool = False) -> Exception:
        code, details = exc.code(), exc.details() or ""
        if code == grpc.StatusCode.UNAVAILABLE:
            return self.unreachable(details)
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return DeadlineExceeded(f"model '{model}': deadline exceeded while TF Serving ran the {what}")
        if code == grpc.StatusCode.CANCELLED:
            return Unavailable(f"model '{model}': the {what} was cancelled by TF Serving at {self.address}")
        return from_status(code, details, model=model, inference=inference)

    # ------------------------------------------------------------------ inference
    async def predict(self, model: str, version: int, signature: str, inputs: Mapping[str, np.ndarray],
                      output_filter: Iterable[str], deadline: float | None) -> dict[str, np.ndarray]:
        """One Predict; inputs and outputs keyed by SignatureDef key. `deadline` is time.monotonic()."""
        request = predict_pb2.PredictRequest()
        spec = request.model_spec
        spec.name, spec.signature_name = model, signature
        spec.version.value = version
        for key, array in inputs.items():
            to_tensor_proto(array, request.inputs[key])
        request.output_filter.extend(output_filter)
        timeout = UNBOUNDED_PREDICT_TIMEOUT_S if deadline is None else max(0.001, deadline - time.monotonic())
        try:
            response = await self._predict_call()(request, timeout=timeout)
        except grpc.RpcError as e:
            raise self._error(e, model, "prediction", inference=True) from None
        try:
            return {key: from_tensor_proto(response.outputs[key], f"output '{key}'") for key in response.outputs}
        except TensorProtoError as e:
            raise ModelFailure(f"model '{model}': TF Serving answered a malformed tensor: {e}") from None

    # ------------------------------------------------------------------ control
    async def status(self, model: str) -> list[VersionStatus] | None:
        """Every version TF Serving knows of `model`; None when it does not know the model."""
        stub = model_service_pb2_grpc.ModelServiceStub(self._aio_channel())
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = model
        try:
            response = await stub.GetModelStatus(request, timeout=CONTROL_TIMEOUT_S)
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise self._error(e, model, "status query") from None
        return sorted((VersionStatus(s.version, STATES.get(s.state, "UNKNOWN"), int(s.status.error_code),
                                     s.status.error_message) for s in response.model_version_status),
                      key=lambda s: s.version)

    async def signature_defs(self, model: str, version: int) -> dict:
        """The SignatureDef map of one version, from GetModelMetadata."""
        stub = prediction_service_pb2_grpc.PredictionServiceStub(self._aio_channel())
        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        request.model_spec.name = model
        request.model_spec.version.value = version
        try:
            response = await stub.GetModelMetadata(request, timeout=CONTROL_TIMEOUT_S)
        except grpc.RpcError as e:
            raise self._error(e, model, "metadata query") from None
        defs = get_model_metadata_pb2.SignatureDefMap()
        if "signature_def" not in response.metadata or not response.metadata["signature_def"].Unpack(defs):
            raise ServingError(f"model '{model}': TF Serving's metadata for version {version} holds no "
                               "SignatureDefMap", code=grpc.StatusCode.FAILED_PRECONDITION)
        return dict(defs.signature_def)

    async def reload(self, config, timeout: float) -> None:
        """HandleReloadConfigRequest with a ModelServerConfig; raises on a refused or failed reload."""
        stub = model_service_pb2_grpc.ModelServiceStub(self._aio_channel())
        request = model_management_pb2.ReloadConfigRequest()
        request.config.CopyFrom(config)
        try:
            response = await stub.HandleReloadConfigRequest(request, timeout=timeout)
        except grpc.RpcError as e:
            raise self._error(e, "*", "config reload") from None
        if response.status.error_code:
            code = status_code(response.status.error_code)
            raise ServingError(f"TF Serving refused the model config: {response.status.error_message}",
                               code=grpc.StatusCode.UNAVAILABLE if code in (grpc.StatusCode.UNKNOWN,
                                                                            grpc.StatusCode.INTERNAL) else code)
