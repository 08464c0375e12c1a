"""The server core through a real grpc.aio server: TLS/mTLS, limits, health, reflection,
management switch, graceful shutdown, and resilience against random malformed requests."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client import InferenceClient, errors
from client.messages import TensorSpec
from protos import grpc_predict_v2_pb2 as pb
from protos import grpc_predict_v2_pb2_grpc as pb_grpc
from server_core.errors import PathRedactor
from server_core.interceptors import RateLimitedLog, bearer_token
from server_core.metrics import Metrics
from server_core.repository import RepositoryBackend
from server_core.runner import BackgroundServer
from server_core.settings import ServerSettings
from tests.support.echo import EchoLoader
from tests.support.ports import free_port, wait_for
from tests.support.process import python_module


def echo(**settings):
    return BackgroundServer(RepositoryBackend(EchoLoader(Metrics())), ServerSettings(**settings))


@pytest.fixture(scope="module")
def server():
    with echo() as srv:
        yield srv


# ------------------------------------------------------------------ TLS


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
             "-days", "2", "-subj", "/CN=tandem-test-ca", cwd=d)
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name in ("server", "client"):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={name}", cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.pem", "-days", "2", "-extfile", "san.ext", cwd=d)
    return d


def test_tls_serves_only_tls_clients(pki: Path):
    with echo(tls_cert=pki / "server.pem", tls_key=pki / "server.key") as srv:
        with InferenceClient(srv.address, root_certificates=str(pki / "ca.pem")) as c:
            assert c.is_server_ready()
        with InferenceClient(srv.address, timeout=2, max_attempts=1) as plain:
            with pytest.raises(errors.UnavailableError):
                plain.is_server_live()


def test_mtls_requires_a_client_certificate(pki: Path):
    with echo(tls_cert=pki / "server.pem", tls_key=pki / "server.key", tls_client_ca=pki / "ca.pem") as srv:
        with InferenceClient(srv.address, root_certificates=str(pki / "ca.pem"),
                             client_certificate=str(pki / "client.pem"), client_key=str(pki / "client.key")) as c:
            assert c.is_server_live()
        with InferenceClient(srv.address, root_certificates=str(pki / "ca.pem"), timeout=2, max_attempts=1) as c:
            with pytest.raises(errors.InferenceError):
                c.is_server_live()


def test_settings_refuse_half_tls():
    with pytest.raises(ValueError, match="go together"):
        ServerSettings(tls_cert=Path("x.pem"))


# ------------------------------------------------------------------ limits, health, reflection, management


def test_message_larger_than_the_limit_is_resource_exhausted():
    with echo(max_message_bytes=64 * 1024) as srv, InferenceClient(srv.address) as c:
        with pytest.raises(errors.ResourceExhaustedError):
            c.infer("identity_fp32", {"INPUT0": np.zeros((1, 32 * 1024), np.float32)})
        out = c.infer("identity_fp32", {"INPUT0": np.zeros((1, 1024), np.float32)})
        assert out["OUTPUT0"].shape == (1, 1024)


def test_default_limit_carries_a_batch_of_images(server):
    batch = np.random.default_rng(0).standard_normal((32, 224 * 224 * 3)).astype(np.float32)  # ~18 MiB
    with InferenceClient(server.address) as c:
        np.testing.assert_array_equal(c.infer("identity_fp32", {"INPUT0": batch})["OUTPUT0"], batch)


def test_reflection_lists_the_services(server):
    with grpc.insecure_channel(server.address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = {s.name for r in replies for s in r.list_services_response.service}
    assert {"inference.GRPCInferenceService", "grpc.health.v1.Health"} <= names


def test_no_management_refuses_load_and_unload():
    with echo(management=False) as srv, InferenceClient(srv.address) as c:
        for call in (c.load_model, c.unload_model):
            with pytest.raises(errors.PermissionDeniedError, match="--no-management"):
                call("add_sub")
        assert c.is_model_ready("add_sub")


def test_health_reports_not_serving_while_shutting_down():
    srv = echo().start()
    channel = grpc.insecure_channel(srv.address)
    stub = health_pb2_grpc.HealthStub(channel)
    assert stub.Check(health_pb2.HealthCheckRequest(), timeout=5).status == health_pb2.HealthCheckResponse.SERVING
    srv.call(srv.server._health.enter_graceful_shutdown())
    status = stub.Check(health_pb2.HealthCheckRequest(), timeout=5).status
    channel.close()
    srv.stop()
    assert status == health_pb2.HealthCheckResponse.NOT_SERVING


def test_metrics_follow_requests(server):
    with InferenceClient(server.address) as c:
        c.infer("add_sub", {"INPUT0": np.ones((1, 16), np.float32), "INPUT1": np.ones((1, 16), np.float32)})
        with pytest.raises(errors.InvalidArgumentError):
            c.infer("add_sub", {"INPUT0": np.ones((1, 3), np.float32), "INPUT1": np.ones((1, 16), np.float32)})
    text = server.server.backend.loader.metrics.render().decode()
    assert 'tandem_requests_total{model="add_sub",status="OK",version="2"}' in text
    assert "tandem_batch_size_bucket" in text and "tandem_queue_latency_seconds_bucket" in text


# ------------------------------------------------------------------ graceful shutdown


def test_sigterm_lets_in_flight_requests_finish():
    metrics_port = free_port()
    proc = python_module("tests.support.echo", "--grace", "10", "--metrics-port", str(metrics_port)).start()
    result = {}

    def slow_call():
        with InferenceClient(proc.address, timeout=20) as c:
            result["out"] = c.infer("slow", {"INPUT0": np.full((1, 1), 3.0, np.float32)})

    def in_flight():
        text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
        return 'tandem_in_flight_requests{model="slow",version="1"} 1.0' in text

    caller = threading.Thread(target=slow_call)
    caller.start()
    try:
        wait_for(in_flight, timeout=20, what="the slow request to be in flight")
    finally:
        code = proc.stop()
        caller.join(20)
    log = proc.log_text()
    assert code == 0, log[-2000:]
    assert result["out"]["OUTPUT0"].tolist() == [[3.0]]
    assert "finishing in-flight requests" in log and "stopped" in log


class GatedLoader(EchoLoader):
    """The echo models plus `gate`, whose calls wait until the test opens `gate_open`."""

    def __init__(self, metrics=None):
        super().__init__(metrics)
        self.gate_open = threading.Event()
        self.gate_entered = threading.Event()
        self.models["gate"] = self._gate

    def _gate(self, name):
        def run(inputs):
            self.gate_entered.set()
            assert self.gate_open.wait(60), "the test never opened the gate"
            return {"OUTPUT0": np.array(inputs["INPUT0"], copy=True)}
        spec = [TensorSpec("INPUT0", "FP32", (-1, 1))]
        return [self._model(name, "1", spec, [TensorSpec("OUTPUT0", "FP32", (-1, 1))], run)]


def test_draining_answers_new_calls_unavailable_never_cancelled():
    loader = GatedLoader()
    srv = BackgroundServer(RepositoryBackend(loader), ServerSettings()).start()
    x = {"INPUT0": np.ones((1, 1), np.float32)}
    statuses: list[grpc.StatusCode] = []
    try:
        with ThreadPoolExecutor(4) as pool:
            held = pool.submit(lambda: InferenceClient(srv.address, max_attempts=1, timeout=60).infer("gate", x))
            assert loader.gate_entered.wait(30)
            stopping = asyncio.run_coroutine_threadsafe(srv.server.stop(60), srv.loop)
            wait_for(lambda: srv.server.draining, 10, what="draining to start")

            channel = grpc.insecure_channel(srv.address)
            stub = pb_grpc.GRPCInferenceServiceStub(channel)
            request = pb.ModelInferRequest(model_name="identity_fp32")
            request.inputs.add(name="INPUT0", datatype="FP32", shape=[1, 1]).contents.fp32_contents.append(1.0)
            with pytest.raises(grpc.RpcError) as info:
                stub.ModelInfer(request, timeout=10)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE and "shutting down" in info.value.details()
            health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert health.status == health_pb2.HealthCheckResponse.NOT_SERVING

            after_gate = threading.Event()

            def hammer():  # clients still calling while the server drains: lame duck until they stop
                while not after_gate.is_set():
                    try:
                        stub.ModelInfer(request, timeout=10)
                        statuses.append(grpc.StatusCode.OK)
                    except grpc.RpcError as e:
                        statuses.append(e.code())

            racers = [pool.submit(hammer) for _ in range(3)]
            wait_for(lambda: len(statuses) >= 5, 10, what="calls during the drain")
            loader.gate_open.set()
            assert held.result(30)["OUTPUT0"].tolist() == [[1.0]]  # the in-flight call finished
            seen = len(statuses)
            wait_for(lambda: len(statuses) >= seen + 5, 10, what="calls after the in-flight one finished")
            assert not stopping.done()  # still draining while clients call
            after_gate.set()
            for racer in racers:
                racer.result(30)
            stopping.result(30)
            with pytest.raises(grpc.RpcError) as info:
                stub.ModelInfer(request, timeout=10)
            statuses.append(info.value.code())
            channel.close()
    finally:
        loader.gate_open.set()
        srv.stop()
    assert statuses and set(statuses) == {grpc.StatusCode.UNAVAILABLE}, set(statuses)


# ------------------------------------------------------------------ hardening


def test_undecodable_request_bytes_are_invalid_argument_without_a_traceback(server, caplog):
    with grpc.insecure_channel(server.address) as channel:
        raw = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer",
                                  request_serializer=None, response_deserializer=None)
        with caplog.at_level(logging.DEBUG):
            for _ in range(3):
                with pytest.raises(grpc.RpcError) as info:
                    raw(b"\xff\xff\xff\xff not a protobuf", timeout=10)
                assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert info.value.details() == ("the request is not a valid inference.ModelInferRequest "
                                                "(19 bytes that do not parse)")
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        assert stub.ServerLive(pb.ServerLiveRequest(), timeout=5).live
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    logged = [r for r in caplog.records if "that are not a inference.ModelInferRequest" in r.getMessage()]
    assert len(logged) == 1  # three refused, one line: rate-limited


def test_rate_limited_log_counts_what_it_left_out(caplog):
    now = [100.0]
    limited = RateLimitedLog(logging.getLogger("tandem.test"), 60.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, "tandem.test"):
        for _ in range(5):
            limited.warning("bad bytes from %s", "x")
        now[0] += 61
        limited.warning("bad bytes from %s", "y")
    assert [r.getMessage() for r in caplog.records] == [
        "bad bytes from x", "bad bytes from y (4 more since the last such message)"]


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_bearer_scheme_is_case_insensitive(scheme):
    with echo(token="s3cret") as srv, grpc.insecure_channel(srv.address) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        assert stub.ServerLive(pb.ServerLiveRequest(), timeout=5, metadata=(("authorization", f"{scheme} s3cret"),))
        for wrong in (f"{scheme} nope", "Basic s3cret", "s3cret", f"{scheme}"):
            with pytest.raises(grpc.RpcError) as info:
                stub.ServerLive(pb.ServerLiveRequest(), timeout=5, metadata=(("authorization", wrong),))
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_bearer_token_parsing():
    assert bearer_token("Bearer abc") == bearer_token("bearer  abc ") == "abc"
    assert bearer_token("Basic abc") is None and bearer_token("Bearer") is None and bearer_token("") is None


def test_metrics_port_serves_only_metrics():
    metrics = Metrics()
    with BackgroundServer(RepositoryBackend(EchoLoader(metrics)), ServerSettings(metrics_port=0), metrics) as srv:
        base = f"http://127.0.0.1:{srv.server.metrics_port}"
        with urllib.request.urlopen(f"{base}/metrics", timeout=5) as r:
            assert r.status == 200 and b"tandem_requests_total" in r.read()
        for path in ("/", "/v2/health/ready", "/v2/health/live", "/metricsx", "/metrics/x"):
            with pytest.raises(urllib.error.HTTPError) as info:
                urllib.request.urlopen(f"{base}{path}", timeout=5)
            assert info.value.code == 404, path


class _LeakyLoader(EchoLoader):
    def __init__(self, folder: Path):
        super().__init__()
        self.folder = folder
        self.models["leaky"] = self._leaky

    def _leaky(self, name):
        raise FileNotFoundError(f"[Errno 2] No such file or directory: '{self.folder / 'leaky' / 'model.pt'}'")


def test_no_server_path_in_statuses_or_repository_index(tmp_path):
    folder = tmp_path / "store"
    settings = ServerSettings(private_folders=((folder, "model-store"),))
    with BackgroundServer(RepositoryBackend(_LeakyLoader(folder)), settings) as srv, \
            InferenceClient(srv.address, max_attempts=1) as c:
        reason = {e.name: e.reason for e in c.repository_index()}["leaky"]
        assert "leaky/model.pt" in reason and str(tmp_path) not in reason
        with pytest.raises(errors.UnavailableError) as info:
            c.infer("leaky", {"INPUT0": np.ones((1, 1), np.float32)})
        assert str(tmp_path) not in info.value.message


def test_path_redactor():
    redact = PathRedactor([("/srv/models", "model-store"), ("/srv/models/work", "work-dir")])
    assert redact("cannot read /srv/models/a/1.mar") == "cannot read a/1.mar"
    assert redact("extracted into /srv/models/work/x") == "extracted into x"
    assert redact("store /srv/models is empty") == "store <model-store> is empty"
    assert not PathRedactor() and PathRedactor()("/a/b") == "/a/b"


# ------------------------------------------------------------------ random malformed requests


_datatypes = st.sampled_from(["FP32", "INT64", "BYTES", "BOOL", "FP16", "UINT8", "XX", ""])
_tensor = st.fixed_dictionaries({
    "name": st.sampled_from(["INPUT0", "INPUT1", "x", ""]),
    "datatype": _datatypes,
    "shape": st.lists(st.integers(-2, 40), max_size=4),
    "raw": st.one_of(st.none(), st.binary(max_size=300)),
    "fp32": st.lists(st.floats(width=32, allow_nan=False), max_size=20),
})


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(model=st.sampled_from(["add_sub", "identity_fp32", "identity_bytes", "nope", ""]),
       tensors=st.lists(_tensor, max_size=3), outputs=st.lists(st.sampled_from(["OUTPUT0", "zz"]), max_size=2))
def test_random_requests_get_a_clear_status_and_the_server_keeps_serving(server, model, tensors, outputs):
    request = pb.ModelInferRequest(model_name=model)
    for t in tensors:
        msg = request.inputs.add(name=t["name"], datatype=t["datatype"], shape=t["shape"])
        msg.contents.fp32_contents.extend(t["fp32"])
        if t["raw"] is not None:
            request.raw_input_contents.append(t["raw"])
    for o in outputs:
        request.outputs.add(name=o)
    with grpc.insecure_channel(server.address) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        try:
            stub.ModelInfer(request, timeout=10)
        except grpc.RpcError as e:
            assert e.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND), (e.code(), e.details())
            assert e.details()
        assert stub.ServerLive(pb.ServerLiveRequest(), timeout=5).live
