"""The echo baseline answers what perf_analyzer needs (ServerMetadata, ModelMetadata, ModelConfig,
ModelStatistics, copied from the service it stands beside) and echoes ModelInfer; both load
generators drive it. Asserts what was answered and counted, not how fast."""

from __future__ import annotations

import math

import grpc
import numpy as np
import pytest

from bench import clients, echo, perf
from client.messages import infer_request
from protos import grpc_predict_v2_pb2 as pb
from protos import grpc_predict_v2_pb2_grpc as pb_grpc
from tests.support.aio_thread import serving

SPEC = pb.ModelConfig(name="mlp", platform="pytorch", max_batch_size=16,
                      input=[pb.ModelInput(name="x", data_type=pb.TYPE_FP32, dims=[64])],
                      output=[pb.ModelOutput(name="y", data_type=pb.TYPE_FP32, dims=[10])])
MIRRORED = {
    "ServerMetadata": pb.ServerMetadataResponse(name="tandem", version="0", extensions=["statistics"]),
    "ModelMetadata": pb.ModelMetadataResponse(
        name="mlp", versions=["1"], platform="pytorch",
        inputs=[pb.ModelMetadataResponse.TensorMetadata(name="x", datatype="FP32", shape=[-1, 64])],
        outputs=[pb.ModelMetadataResponse.TensorMetadata(name="y", datatype="FP32", shape=[-1, 10])]),
    "ModelConfig": pb.ModelConfigResponse(config=SPEC),
    "ModelStatistics": pb.ModelStatisticsResponse(model_stats=[pb.ModelStatistics(name="mlp", version="1")]),
}


@pytest.fixture(scope="module")
def echo_server():
    answers = {name: message.SerializeToString() for name, message in MIRRORED.items()}
    with serving(lambda: echo.start(0, answers)) as server:
        yield server


def test_the_forwarder_passes_any_unary_call_through_unchanged(echo_server):
    """`--forward`: the bare one-hop floor answers exactly what the server behind it answers."""
    with serving(lambda: echo.start(0, forward=echo_server.address), "forwarder") as forwarder:
        x = np.arange(64, dtype=np.float32).reshape(1, 64)
        with grpc.insecure_channel(forwarder.address) as channel, \
                grpc.insecure_channel(echo_server.address) as direct:
            stub, straight = pb_grpc.GRPCInferenceServiceStub(channel), pb_grpc.GRPCInferenceServiceStub(direct)
            request = infer_request("mlp", {"x": x})
            assert stub.ModelInfer(request, timeout=10) == straight.ModelInfer(request, timeout=10)
            assert stub.ModelConfig(pb.ModelConfigRequest(name="mlp"), timeout=10).config == SPEC


def test_mirrored_answers_and_echo(echo_server):
    with grpc.insecure_channel(echo_server.address) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        assert stub.ModelConfig(pb.ModelConfigRequest(name="mlp"), timeout=10).config == SPEC
        assert stub.ModelMetadata(pb.ModelMetadataRequest(name="any"), timeout=10) == MIRRORED["ModelMetadata"]
        assert stub.ServerReady(pb.ServerReadyRequest(), timeout=10).ready
        x = np.arange(64, dtype=np.float32).reshape(1, 64)
        answer = stub.ModelInfer(infer_request("mlp", {"x": x}), timeout=10)
    assert answer.model_name == "mlp"
    assert [o.name for o in answer.outputs] == ["x"]  # the request's inputs, read back as outputs


def test_python_clients_drive_the_echo(echo_server, tmp_path):
    request = infer_request("mlp", {"x": np.zeros((1, 64), np.float32)}).SerializeToString()
    load = clients.run(echo_server, "/inference.GRPCInferenceService/ModelInfer", request, concurrency=4,
                       duration_s=0.5, processes=2, workdir=tmp_path)
    assert load.rps > 0 and load.p50_ms > 0
    assert load.client_cores > 0  # the two client processes' CPU was read


def test_perf_analyzer_drives_the_echo(echo_server):
    if perf.missing():
        pytest.skip(perf.missing())
    load = perf.run(echo_server, "mlp", concurrency=2, duration_s=1.5)
    assert load.rps > 0 and load.p50_ms > 0
    assert not math.isnan(load.client_cores)


def test_python_clients_stand_in_for_a_missing_perf_analyzer(echo_server, tmp_path, monkeypatch):
    from bench import loadgen

    monkeypatch.setattr(loadgen.perf, "missing", lambda: "perf_analyzer is not installed (run `make tools`)")
    load = loadgen.OipLoad(tmp_path)
    assert load.name.endswith("Python client processes")
    assert load.run(echo_server, loadgen.Model("mlp", "x", (1, 64)), 2, 0.5).rps > 0
