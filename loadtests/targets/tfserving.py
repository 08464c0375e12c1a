"""`tfserving://HOST:PORT[?signature=NAME&model=NAME]`: a stock TensorFlow Serving through its own
gRPC API (`tensorflow.serving.PredictionService`, port 8500 by default; messages vendored in
`loadtests.targets.vendor`, so no TensorFlow install is needed).

The signature (default `serving_default`) comes from `GetModelMetadata`; its input and output keys
become the tensor names, its dtypes and shapes the OIP datatypes and shapes (-1 = variable), so it
is compared with the other targets' signatures like any other. One `Predict` per request, tensors in
`tensor_content`. Liveness: `GetModelMetadata` of the model (TF Serving has no ServerLive).
`model=` is the model's name in TF Serving (default: the comparison's `--model`); `--model-version`
selects a version as for the other targets.
"""

from __future__ import annotations

from collections.abc import Mapping

import grpc
import numpy as np

from client.messages import ModelMetadata, TensorSpec

from . import tf_tensors
from .base import CallError, NoServerTime, Target, TargetError
from .vendor import tfserving_subset_pb2 as tfs

PREDICT = "/tensorflow.serving.PredictionService/Predict"
METADATA = "/tensorflow.serving.PredictionService/GetModelMetadata"
DEFAULT_SIGNATURE = "serving_default"


def _spec(target: Target, model: str, version: str) -> tfs.ModelSpec:
    spec = tfs.ModelSpec(name=target.params.get("model") or model,
                         signature_name=target.params.get("signature", DEFAULT_SIGNATURE))
    if version:
        spec.version.value = int(version)
    return spec


class _Stubs:
    def __init__(self, address: str):
        self.channel = grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", 256 << 20),
                                                               ("grpc.max_send_message_length", 256 << 20)])
        self.predict = self.channel.unary_unary(PREDICT, request_serializer=tfs.PredictRequest.SerializeToString,
                                                response_deserializer=tfs.PredictResponse.FromString)
        self.metadata = self.channel.unary_unary(
            METADATA, request_serializer=tfs.GetModelMetadataRequest.SerializeToString,
            response_deserializer=tfs.GetModelMetadataResponse.FromString)


def signature(stubs: _Stubs, spec: tfs.ModelSpec, timeout: float) -> tfs.SignatureDef:
    """The signature named in `spec`; grpc.RpcError from the call, KeyError when it has none such."""
    answer = stubs.metadata(tfs.GetModelMetadataRequest(model_spec=spec, metadata_field=["signature_def"]),
                            timeout=timeout)
    defs = tfs.SignatureDefMap.FromString(answer.metadata["signature_def"].value)
    if spec.signature_name not in defs.signature_def:
        raise KeyError(spec.signature_name)
    return defs.signature_def[spec.signature_name]


def _specs(infos) -> tuple[TensorSpec, ...]:
    out = []
    for key in sorted(infos):
        info = infos[key]
        datatype = tf_tensors.DTYPES.get(info.dtype, (f"DT_{info.dtype}", None, ""))[0]
        shape = tuple(-1 if d.size < 0 else int(d.size) for d in info.tensor_shape.dim)
        out.append(TensorSpec(key, datatype, shape))
    return tuple(out)


class TfServingCaller:
    def __init__(self, target: Target, model: str, version: str, meta: ModelMetadata, deadline_s: float):
        self._stubs = _Stubs(target.address)
        self._spec = _spec(target, model, version)
        self._types = {s.name: s.datatype for s in meta.inputs}

    def encode(self, inputs: Mapping[str, np.ndarray]):
        request = tfs.PredictRequest(model_spec=self._spec)
        for name, array in inputs.items():
            request.inputs[name].CopyFrom(tf_tensors.to_proto(np.asarray(array), self._types[name]))
        return request

    def call(self, request, timeout: float):
        try:
            response = self._stubs.predict(request, timeout=timeout)
        except grpc.RpcError as e:
            raise CallError(e.code().name, e.details() or "") from None
        return response, response.ByteSize()

    def decode(self, response) -> dict[str, np.ndarray]:
        try:
            return {k: tf_tensors.from_proto(v) for k, v in response.outputs.items()}
        except ValueError as e:
            raise CallError("BAD_RESPONSE", str(e)) from None

    def live(self, timeout: float) -> bool:
        try:
            self._stubs.metadata(tfs.GetModelMetadataRequest(model_spec=self._spec, metadata_field=["signature_def"]),
                                 timeout=timeout)
        except grpc.RpcError as e:
            raise CallError(e.code().name, e.details() or "") from None
        return True

    def close(self) -> None:
        self._stubs.channel.close()


class TfServingKind(NoServerTime):
    scheme = "tfserving"
    summary = "a stock TensorFlow Serving's gRPC API (Predict; ?signature=NAME&model=NAME)"
    params: Mapping[str, str] = {"signature": f"the SignatureDef to call (default {DEFAULT_SIGNATURE})",
                                 "model": "the model's name in TF Serving (default: --model)"}

    def check_params(self, params: Mapping[str, str]) -> None:
        return None

    def metadata(self, target: Target, model: str, version: str, timeout: float) -> ModelMetadata:
        if version and not version.isdigit():
            raise TargetError(f"{target.where()}: TF Serving versions are integers, got --model-version {version}")
        spec = _spec(target, model, version)
        stubs = _Stubs(target.address)
        try:
            sig = signature(stubs, spec, timeout)
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.UNAVAILABLE:
                raise TargetError(f"{target.where()} is not reachable: UNAVAILABLE: {e.details()}. Is TF "
                                  "Serving's gRPC port (8500 by default) at that address?") from None
            raise TargetError(f"{target.where()} cannot describe model '{spec.name}': {e.code().name}: "
                              f"{e.details()}") from None
        except KeyError:
            raise TargetError(f"{target.where()}: model '{spec.name}' has no signature "
                              f"'{spec.signature_name}'; pick one with ?signature=NAME") from None
        finally:
            stubs.channel.close()
        return ModelMetadata(name=spec.name, versions=(version,) if version else (), platform="tensorflow_serving",
                             inputs=_specs(sig.inputs), outputs=_specs(sig.outputs))

    def open(self, target: Target, model: str, version: str, meta: ModelMetadata,
             deadline_s: float) -> TfServingCaller:
        return TfServingCaller(target, model, version, meta, deadline_s)
