"""OIP v2 REST on the real server (echo backend): JSON and binary tensors give the same answer as the
gRPC client; every kind of bad input answers a JSON error with the right status and the server keeps
serving; ModelConfig over both transports; the access log."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from client import InferenceClient
from client.codec import serialize_bytes

from .conftest import MAX_BODY
from .http import error_of, send

A = np.arange(32, dtype=np.float32).reshape(2, 16) / 7
B = np.ones((2, 16), np.float32)


def json_request(a=A, b=B, **extra):
    return {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": list(a.shape), "data": a.tolist()},
                       {"name": "INPUT1", "datatype": "FP32", "shape": list(b.shape), "data": b.reshape(-1).tolist()}],
            **extra}


def test_json_infer_gives_the_same_answer_as_the_grpc_client(server, base):
    status, _, body = send(f"{base}/v2/models/add_sub/infer", json_request(id="r1"))
    assert status == 200, body
    doc = json.loads(body)
    with InferenceClient(server.address) as c:
        expected = c.infer("add_sub", {"INPUT0": A, "INPUT1": B})
    assert doc["model_name"] == "add_sub" and doc["model_version"] == "2" and doc["id"] == "r1"
    got = {o["name"]: np.asarray(o["data"], np.float32).reshape(o["shape"]) for o in doc["outputs"]}
    assert list(got) == ["OUTPUT0", "OUTPUT1"]
    for name, value in expected.items():
        np.testing.assert_array_equal(got[name], value)
        assert [o for o in doc["outputs"] if o["name"] == name][0]["datatype"] == "FP32"


def test_binary_tensors_both_ways(base):
    head = json.dumps({"inputs": [
        {"name": "INPUT0", "datatype": "FP32", "shape": [2, 16], "parameters": {"binary_data_size": A.nbytes}},
        {"name": "INPUT1", "datatype": "FP32", "shape": [2, 16], "data": B.reshape(-1).tolist()}],
        "outputs": [{"name": "OUTPUT1", "parameters": {"binary_data": True}}]}).encode()
    status, headers, body = send(f"{base}/v2/models/add_sub/versions/1/infer", head + A.tobytes(),
                                 headers={"Inference-Header-Content-Length": str(len(head))})
    assert status == 200, body
    n = int(headers["Inference-Header-Content-Length"])
    (out,) = json.loads(body[:n])["outputs"]
    assert out["name"] == "OUTPUT1" and out["parameters"]["binary_data_size"] == A.nbytes
    np.testing.assert_array_equal(np.frombuffer(body[n:], np.float32).reshape(2, 16), A - B)


def test_bytes_that_are_not_utf8_come_back_binary(base):
    data = [b"ok", b"\xff\xfe"]
    raw = serialize_bytes(data)
    head = json.dumps({"inputs": [{"name": "INPUT0", "datatype": "BYTES", "shape": [1, 2],
                                   "parameters": {"binary_data_size": len(raw)}}]}).encode()
    status, headers, body = send(f"{base}/v2/models/identity_bytes/infer", head + raw,
                                 headers={"Inference-Header-Content-Length": str(len(head))})
    assert status == 200, body
    n = int(headers["Inference-Header-Content-Length"])
    assert json.loads(body[:n])["outputs"][0]["parameters"]["binary_data_size"] == len(raw)
    assert body[n:] == raw


def test_health_metadata_config_and_repository(base):
    assert send(f"{base}/v2/health/live")[0] == 200
    assert send(f"{base}/v2/health/ready")[0] == 200
    assert json.loads(send(f"{base}/v2")[2])["extensions"]
    assert send(f"{base}/v2/models/add_sub/ready")[0] == 200
    assert send(f"{base}/v2/models/add_sub/versions/99/ready")[0] == 503
    meta = json.loads(send(f"{base}/v2/models/add_sub/versions/1")[2])
    assert meta["versions"] == ["1", "2"] and meta["inputs"][0]["shape"] == [-1, 16]
    config = json.loads(send(f"{base}/v2/models/add_sub/config")[2])
    assert config["max_batch_size"] == 8 and config["input"][0] == {"name": "INPUT0", "data_type": "TYPE_FP32",
                                                                    "dims": [16]}
    assert config["dynamic_batching"] == {"preferred_batch_size": [8], "max_queue_delay_microseconds": 5000}
    index = json.loads(send(f"{base}/v2/repository/index", {"ready": False})[2])
    assert {"name": "broken", "version": "", "state": "UNAVAILABLE"}.items() <= [
        e for e in index if e["name"] == "broken"][0].items()


def test_model_config_over_grpc_matches_rest(server, base):
    import grpc

    from protos import grpc_predict_v2_pb2 as pb
    from protos import grpc_predict_v2_pb2_grpc as pb_grpc

    with grpc.insecure_channel(server.address) as channel:
        config = pb_grpc.GRPCInferenceServiceStub(channel).ModelConfig(pb.ModelConfigRequest(name="identity_fp32"),
                                                                       timeout=10).config
    rest = json.loads(send(f"{base}/v2/models/identity_fp32/config")[2])
    rows = server.server.backend.resolve("identity_fp32").contract.max_rows
    assert config.max_batch_size == rest["max_batch_size"] == rows  # no batching: the request row limit
    assert list(config.input[0].dims) == rest["input"][0]["dims"] == [-1]
    assert not config.HasField("dynamic_batching") and "dynamic_batching" not in rest
    assert config.instance_group[0].count == 1


@pytest.mark.parametrize("body, headers, status, fragments", [
    (b"{not json", {}, 400, ["malformed JSON"]),
    (b"[1, 2]", {}, 400, ["must be a JSON object"]),
    (json.dumps(json_request(a=A[:, :15])).encode(), {}, 400, ["INPUT0", "expected FP32 [-1, 16]", "[2, 15]"]),
    (json.dumps({"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [2, 16], "data": [1.0] * 31},
                            {"name": "INPUT1", "datatype": "FP32", "shape": [2, 16], "data": [1.0] * 32}]}).encode(),
     {}, 400, ["input 'INPUT0'", "expected 32 values", "got 31"]),
    (json.dumps({"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [2, 16], "data": ["x"] * 32}]}).encode(),
     {}, 400, ["input 'INPUT0'", "must hold numbers"]),
    (json.dumps(json_request()).encode(), {"Inference-Header-Content-Length": "999999"}, 400,
     ["Inference-Header-Content-Length is 999999"]),
    (json.dumps(json_request()).encode() + b"junk", {"Inference-Header-Content-Length": "10"}, 400,
     ["malformed JSON"]),
    (json.dumps(json_request()).encode() + b"trailing", {"Inference-Header-Content-Length": str(
        len(json.dumps(json_request())))}, 400, ["8 bytes of binary data", "belong to no input"]),
])
def test_bad_infer_bodies_are_400_with_a_json_error(server, base, body, headers, status, fragments):
    answer = send(f"{base}/v2/models/add_sub/infer", body, headers=headers)
    assert answer[0] == status, answer
    message = error_of(answer)
    for f in fragments:
        assert f in message, message
    assert send(f"{base}/v2/health/live")[0] == 200


def test_unknown_paths_models_and_methods(base):
    answer = send(f"{base}/v2/nothing/here")
    assert answer[0] == 404 and "no such path" in error_of(answer)
    answer = send(f"{base}/v2/models/missing/infer", json_request())
    assert answer[0] == 404 and "missing" in error_of(answer)
    answer = send(f"{base}/v2/models/add_sub/versions/99")
    assert answer[0] == 404 and "version '99'" in error_of(answer)
    answer = send(f"{base}/v2/models/add_sub/infer", method="GET")
    assert answer[0] == 405 and "POST" in error_of(answer)


def test_a_body_over_the_limit_is_413(base):
    answer = send(f"{base}/v2/models/add_sub/infer", b"x" * (MAX_BODY + 1))
    assert answer[0] == 413, answer
    assert f"over the limit of {MAX_BODY} bytes" in error_of(answer)
    assert send(f"{base}/v2/models/add_sub/infer", json_request())[0] == 200


def test_model_failure_is_500_without_details_and_unavailable_is_503(base):
    answer = send(f"{base}/v2/models/faulty/infer", {"inputs": [
        {"name": "INPUT0", "datatype": "FP32", "shape": [1, 1], "data": [1.0]}]})
    assert answer[0] == 500 and "ref" in error_of(answer) and "secret" not in error_of(answer)
    answer = send(f"{base}/v2/models/broken/infer", json_request())
    assert answer[0] == 503 and "broken" in error_of(answer)


def test_access_log_has_one_line_per_request(server, base, caplog):
    with caplog.at_level(logging.INFO, logger="tandem.access"):
        send(f"{base}/v2/models/add_sub/versions/1/infer", json_request())
        send(f"{base}/v2/models/missing/infer", json_request())
        with InferenceClient(server.address) as c:
            c.infer("add_sub", {"INPUT0": A, "INPUT1": B}, version="2")
    lines = [r.getMessage() for r in caplog.records if r.name == "tandem.access"]
    assert any(line.startswith("http ModelInfer model=add_sub version=1 status=200 OK") and "peer=127.0.0.1" in line
               for line in lines), lines
    assert any(line.startswith("http ModelInfer model=missing version= status=404 NOT_FOUND") for line in lines), lines
    assert any(line.startswith("grpc ModelInfer model=add_sub version=2 status=OK") and "ms peer=" in line
               for line in lines), lines
