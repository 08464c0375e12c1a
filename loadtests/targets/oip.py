"""`grpc://HOST:PORT` (the default scheme): any Open Inference Protocol v2 gRPC server: Tandem's
services, Triton, KServe, MLServer. Signature from ModelMetadata; one ModelInfer per request with
raw tensor contents; liveness from ServerLive; `?token_env=VAR`: a bearer token on every call.
These servers may also answer ModelStatistics and ModelConfig (where the server's time goes:
`loadtests.run.server_time`)."""

from __future__ import annotations

from collections.abc import Mapping

import grpc
import numpy as np

from client.channel import ChannelSettings, open_channel
from client.codec import CodecError
from client.errors import InferenceError, NotFoundError, from_rpc_error
from client.messages import ModelMetadata, infer_outputs, infer_request
from client.sync import InferenceClient
from protos import grpc_predict_v2_pb2 as pb
from protos import grpc_predict_v2_pb2_grpc as pb_grpc

from .base import TOKEN_ENV, TOKEN_ENV_HELP, CallError, Target, TargetError, bearer_token


class OipCaller:
    def __init__(self, target: Target, model: str, version: str, deadline_s: float):
        self.model, self.version = model, version
        settings = ChannelSettings(target.address, timeout=deadline_s, max_attempts=1,
                                   token=bearer_token(target.params))
        self._channel = open_channel(settings, grpc)
        self._stub = pb_grpc.GRPCInferenceServiceStub(self._channel)
        self._metadata = settings.metadata() or None

    def encode(self, inputs: Mapping[str, np.ndarray]):
        return infer_request(self.model, inputs, version=self.version or None)

    def call(self, request, timeout: float):
        try:
            response = self._stub.ModelInfer(request, timeout=timeout, metadata=self._metadata)
        except grpc.RpcError as e:
            error = from_rpc_error(e)
            raise CallError(error.code.name, error.message) from None
        return response, sum(len(b) for b in response.raw_output_contents) or response.ByteSize()

    def decode(self, response) -> dict[str, np.ndarray]:
        try:
            return infer_outputs(response)
        except CodecError as e:
            raise CallError("BAD_RESPONSE", str(e)) from None

    def live(self, timeout: float) -> bool:
        try:
            return self._stub.ServerLive(pb.ServerLiveRequest(), timeout=timeout, metadata=self._metadata).live
        except grpc.RpcError as e:
            error = from_rpc_error(e)
            raise CallError(error.code.name, error.message) from None

    def close(self) -> None:
        self._channel.close()


class OipKind:
    scheme = "grpc"
    summary = "any OIP v2 gRPC server (Tandem's services, Triton, KServe, MLServer)"
    params: Mapping[str, str] = {TOKEN_ENV: TOKEN_ENV_HELP}
    reports_server_time = True

    def check_params(self, params: Mapping[str, str]) -> None:
        bearer_token(params)

    def metadata(self, target: Target, model: str, version: str, timeout: float) -> ModelMetadata:
        where = target.where()
        with InferenceClient(target.address, timeout=timeout, max_attempts=1,
                             token=bearer_token(target.params)) as client:
            try:
                if not client.is_server_live():
                    raise TargetError(f"{where} says it is not live")
            except InferenceError as e:
                raise TargetError(f"{where} is not reachable: {e.code.name}: {e.message}. Is the server "
                                  "running on that address?") from None
            try:
                if not client.is_server_ready():
                    raise TargetError(f"{where} is up but not ready (still loading?); try again when "
                                      "its readiness check passes")
                meta = client.model_metadata(model, version or None)
                if not client.is_model_ready(model, version or None):
                    raise TargetError(f"{where}: model '{model}' is known but not ready")
            except NotFoundError as e:
                raise TargetError(f"{where} does not serve model '{model}'"
                                  f"{' version ' + version if version else ''}: {e.message}") from None
            except InferenceError as e:
                raise TargetError(f"{where}: {e.code.name}: {e.message}") from None
        return meta

    def open(self, target: Target, model: str, version: str, meta: ModelMetadata, deadline_s: float) -> OipCaller:
        return OipCaller(target, model, version, deadline_s)

    def statistics(self, target: Target, model: str, version: str, timeout: float) -> pb.ModelStatisticsResponse | None:
        return _ask(target, "ModelStatistics", pb.ModelStatisticsRequest(name=model, version=version), timeout)

    def model_config(self, target: Target, model: str, version: str, timeout: float) -> pb.ModelConfig | None:
        answer = _ask(target, "ModelConfig", pb.ModelConfigRequest(name=model, version=version), timeout)
        return None if answer is None else answer.config


def _ask(target: Target, rpc: str, request, timeout: float):
    """One RPC's answer, or None when the server does not answer it (UNIMPLEMENTED, down, ...)."""
    channel = grpc.insecure_channel(target.address)
    headers = ChannelSettings(target.address, token=bearer_token(target.params)).metadata() or None
    try:
        return getattr(pb_grpc.GRPCInferenceServiceStub(channel), rpc)(request, timeout=timeout, metadata=headers)
    except grpc.RpcError:
        return None
    finally:
        channel.close()
