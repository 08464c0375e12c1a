"""The tfserving backend against the TF Serving stand-in: what crosses the wire (deadline,
output_filter, tensor_content), statuses passed through the same as embedded, and TF Serving
killed (also mid-load) -> UNAVAILABLE naming its address, then recovery on its own."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from client import InferenceClient, errors
from server_core.metrics import Metrics
from tests.support.ports import free_port, wait_for
from tf_service.embedded import EmbeddedBackend
from tf_service.tfserving import TFServingBackend, TFServingOptions

from . import fake_tfserving
from .conftest import serving

ADDRESS_FRAGMENT = "TF Serving at 127.0.0.1:"


def pair(rows=2, seed=0):
    rng = np.random.default_rng(seed)
    return {"INPUT0": rng.standard_normal((rows, 16)).astype(np.float32),
            "INPUT1": rng.standard_normal((rows, 16)).astype(np.float32)}


@pytest.fixture(scope="module")
def stand_in(small_store):
    config = fake_tfserving.model_server_config_pb2.ModelServerConfig()
    for name in sorted(p.name for p in small_store.iterdir()):
        entry = config.model_config_list.config.add(name=name, base_path=str(small_store / name))
        entry.model_version_policy.all.SetInParent()
    with fake_tfserving.FakeTFServing(config, poll_s=0) as tfs:
        yield tfs


@pytest.fixture(scope="module")
def remote(stand_in, small_store):
    backend = TFServingBackend(stand_in.address, small_store, metrics=Metrics(), options=TFServingOptions(poll_s=0.5))
    with serving(backend) as srv:
        yield srv


def test_deadline_output_filter_and_tensor_content_cross_the_wire(remote, stand_in):
    with InferenceClient(remote.address) as c:
        out = c.infer("add_sub", pair(), outputs=["OUTPUT1"], version="1", timeout=5)
        sent = stand_in.prediction.requests[-1]
        assert list(out) == ["OUTPUT1"]
        assert list(sent.output_filter) == ["OUTPUT1"]
        assert sent.model_spec.version.value == 1 and sent.model_spec.signature_name == "serving_default"
        assert 0 < stand_in.prediction.deadlines[-1] < 5.1  # the caller's deadline, less the time spent
        c.infer("add_sub", pair(), version="1", timeout=20)
        assert 10 < stand_in.prediction.deadlines[-1] < 20.1  # follows the caller, not a fixed timeout
        assert all(t.tensor_content and not t.float_val for t in sent.inputs.values())
        c.infer("add_sub", pair(), version="1")
        assert sorted(stand_in.prediction.requests[-1].output_filter) == ["OUTPUT0", "OUTPUT1"]
        stats = c.statistics("add_sub", "1").model_stats[0]  # counted in tf_service, not asked of TF Serving
        assert stats.inference_count >= 3 and stats.execution_count >= 1
    metrics = remote.server.backend.metrics.render().decode()
    assert 'tandem_requests_total{model="add_sub",status="OK",version="1"}' in metrics


def test_a_served_model_resolves_without_scanning_the_base_path(remote, monkeypatch):
    """The request path looks a served model up in memory; the base path is read by the poll only."""
    backend = remote.server.backend

    def scanned():
        raise AssertionError("the base path was scanned on the request path")

    monkeypatch.setattr(backend.store, "names", scanned)
    assert backend.resolve("add_sub", "1").version == "1"


def test_bytes_travel_as_dt_string(remote, stand_in):
    data = np.array([[b"a", b"\x00\xff"], [b"", "\u00e9".encode()]], dtype=object)
    with InferenceClient(remote.address) as c:
        out = c.infer("identity_bytes", {"INPUT0": data})["OUTPUT0"]
    np.testing.assert_array_equal(out, data)
    sent = stand_in.prediction.requests[-1].inputs["INPUT0"]
    assert sent.dtype == 7 and list(sent.string_val) == list(data.reshape(-1))


def test_deadline_shorter_than_the_model(remote):
    with InferenceClient(remote.address) as c:
        with pytest.raises(errors.DeadlineExceededError):
            c.infer("slow", {"INPUT0": np.ones((1, 1), np.float32)}, timeout=0.2)
        assert c.is_server_live() and c.is_model_ready("slow")


def test_statuses_and_messages_match_the_embedded_backend(remote, small_store):
    negative = {"INPUT0": -np.ones((1, 1), np.float32)}
    with serving(EmbeddedBackend(small_store, poll_s=0, models=["checked"])) as local:
        answers = []
        for address in (local.address, remote.address):
            with InferenceClient(address) as c:
                np.testing.assert_allclose(c.infer("checked", {"INPUT0": np.full((1, 1), 4.0, np.float32)})["OUTPUT0"],
                                           [[2.0]])
                with pytest.raises(errors.InvalidArgumentError) as info:
                    c.infer("checked", negative)
                answers.append(info.value.message)
    assert answers[0] == answers[1], answers
    assert answers[0].startswith("model 'checked' ")  # the shared wording (server_core.contract.InputRejected)
    assert "{{node" not in answers[0] and "[Op:" not in answers[0]


def test_model_metadata_and_index_come_from_tf_serving(remote):
    with InferenceClient(remote.address) as c:
        meta = c.model_metadata("identity_fp32")
        index = {(e.name, e.version): e.state for e in c.repository_index()}
    assert meta.platform == "tensorflow_savedmodel" and meta.versions == ("1",)
    assert [(t.name, t.datatype, t.shape) for t in meta.inputs] == [("INPUT0", "FP32", (-1, -1))]
    assert index[("add_sub", "1")] == index[("add_sub", "2")] == "READY"


def _stand_in_process(config, port, **env):
    return fake_tfserving.binary_process(f"--port={port}", f"--model_config_file={config}", env=env)


def test_tf_serving_killed_mid_load_is_unavailable_then_recovers(small_store, tmp_path):
    port = free_port()
    config = fake_tfserving.write_model_config(tmp_path / "models.config", small_store, ["add_sub"])
    first = _stand_in_process(config, port).start()
    backend = TFServingBackend(f"127.0.0.1:{port}", small_store, options=TFServingOptions(poll_s=0.2))
    try:
        with serving(backend) as srv, InferenceClient(srv.address, max_attempts=1) as c:
            assert c.is_server_ready()
            c.infer("add_sub", pair())
            before = c.statistics("add_sub", "2").model_stats[0].inference_count

            first.kill()
            wait_for(lambda: not c.is_server_ready(), 10, what="readiness to drop")
            assert not c.is_model_ready("add_sub")
            with pytest.raises(errors.UnavailableError) as info:
                c.infer("add_sub", pair())
            assert f"{ADDRESS_FRAGMENT}{port}" in info.value.message
            index = c.repository_index()
            assert index and all(e.state == "UNAVAILABLE" and str(port) in e.reason for e in index)

            with _stand_in_process(config, port, FAKE_TFS_LOAD_DELAY_S="30").spawn() as loading:
                wait_for(lambda: "Loading servable" in loading.log_tail(), 60, what="the stand-in to start loading")
                assert not loading.ready
                loading.kill()  # killed mid-load: still unavailable, nothing hangs
            with pytest.raises(errors.UnavailableError):
                c.infer("add_sub", pair())

            with _stand_in_process(config, port):
                wait_for(c.is_server_ready, 30, what="recovery")
                out = c.infer("add_sub", pair(), version="1")
                assert set(out) == {"OUTPUT0", "OUTPUT1"}
                c.infer("add_sub", pair())
                after = c.statistics("add_sub", "2").model_stats[0].inference_count
                assert after == before + 1  # the same served versions: counters survive the outage
    finally:
        first.stop()


def test_unknown_address_fails_fast_with_the_address(small_store):
    port = free_port()
    backend = TFServingBackend(f"127.0.0.1:{port}", small_store, options=TFServingOptions(poll_s=0))
    with serving(backend) as srv, InferenceClient(srv.address, max_attempts=1) as c:
        assert not c.is_server_ready()
        with pytest.raises(errors.UnavailableError, match=f"127.0.0.1:{port}"):
            c.infer("add_sub", pair())
        with pytest.raises(grpc.RpcError) as info:
            grpc_stub_status(srv.address)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE


def grpc_stub_status(address):
    from protos import grpc_predict_v2_pb2 as pb
    from protos import grpc_predict_v2_pb2_grpc as pb_grpc

    with grpc.insecure_channel(address) as channel:
        return pb_grpc.GRPCInferenceServiceStub(channel).ModelMetadata(pb.ModelMetadataRequest(name="add_sub"),
                                                                        timeout=5)
