"""The OIP v2 conformance suite: every RPC, datatype, contents form and error status, run against
every registered target (the echo test backend here; each service registers its own)."""

from __future__ import annotations

import asyncio

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from client import CodecError, errors
from client.datatypes import DATATYPES
from protos import grpc_predict_v2_pb2 as pb
from tests.support.samples import sample

RNG = np.random.default_rng(7)


def client(target, **kw):
    return target.client(**kw)


def pair(rows=2):
    return {"INPUT0": RNG.standard_normal((rows, 16)).astype(np.float32),
            "INPUT1": RNG.standard_normal((rows, 16)).astype(np.float32)}


def raw_call(target, request, rpc="ModelInfer", timeout=10):
    return target.call(request, rpc, timeout)


def expect_status(target, request, code, *fragments, rpc="ModelInfer"):
    with pytest.raises(grpc.RpcError) as info:
        raw_call(target, request, rpc)
    assert info.value.code() == code, info.value.details()
    for f in fragments:
        assert f in info.value.details(), info.value.details()
    return info.value.details()


def fp32_request(model="add_sub", shape=(2, 16), names=("INPUT0", "INPUT1"), datatype="FP32", raw=None):
    request = pb.ModelInferRequest(model_name=model)
    for n in names:
        request.inputs.add(name=n, datatype=datatype, shape=list(shape))
        request.raw_input_contents.append(raw if raw is not None else bytes(4 * int(np.prod(shape))))
    return request


# ------------------------------------------------------------------ health and metadata

def test_live_ready_and_server_metadata(target):
    with client(target) as c:
        assert c.is_server_live() and c.is_server_ready()
        meta = c.server_metadata()
    assert meta["name"] and meta["version"]
    assert {"model_repository", "statistics"} <= set(meta["extensions"])


def test_model_metadata_reports_exact_signature(target):
    with client(target) as c:
        meta = c.model_metadata("add_sub")
    assert meta.platform == target.platform
    assert list(meta.versions) == ["1", "2"]
    assert [(t.name, t.datatype, t.shape) for t in meta.inputs] == [("INPUT0", "FP32", (-1, 16)),
                                                                     ("INPUT1", "FP32", (-1, 16))]
    assert [(t.name, t.datatype, t.shape) for t in meta.outputs] == [("OUTPUT0", "FP32", (-1, 16)),
                                                                      ("OUTPUT1", "FP32", (-1, 16))]


def test_model_ready(target):
    with client(target) as c:
        assert c.is_model_ready("add_sub")
        assert c.is_model_ready("add_sub", "1")
        assert not c.is_model_ready("add_sub", "99")
        assert not c.is_model_ready("no_such_model")


def test_grpc_health_service_answers_without_token(target):
    if target.transport != "grpc":
        pytest.skip("grpc.health.v1 is gRPC's own health service (REST has /v2/health/*)")
    with grpc.insecure_channel(target.address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ("", "inference.GRPCInferenceService"):
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING


# ------------------------------------------------------------------ inference

@pytest.mark.parametrize("raw", [True, False], ids=["raw", "typed"])
def test_add_sub_versions(target, raw):
    inputs = pair(3)
    a, b = inputs["INPUT0"].copy(), inputs["INPUT1"].copy()
    with client(target) as c:
        latest = c.infer("add_sub", inputs, raw=raw)
        v1 = c.infer("add_sub", inputs, version="1", raw=raw)
    np.testing.assert_allclose(v1["OUTPUT0"], a + b, rtol=1e-6)
    np.testing.assert_allclose(v1["OUTPUT1"], a - b, rtol=1e-6)
    np.testing.assert_allclose(latest["OUTPUT0"], a + b + 1, rtol=1e-6)
    assert list(latest) == ["OUTPUT0", "OUTPUT1"]
    np.testing.assert_array_equal(inputs["INPUT0"], a)  # caller's arrays untouched


def test_requested_outputs_subset_and_order(target):
    with client(target) as c:
        out = c.infer("add_sub", pair(), outputs=["OUTPUT1", "OUTPUT0"])
        assert list(out) == ["OUTPUT1", "OUTPUT0"]
        only = c.infer("add_sub", pair(), outputs=["OUTPUT1"])
        assert list(only) == ["OUTPUT1"]


def test_identity_every_datatype_raw_and_typed(target):
    assert target.identity, "target declares no identity models"
    with client(target) as c:
        for datatype, model in target.identity.items():
            data = sample(datatype)
            for raw in (True, False):
                if not raw and DATATYPES[datatype].contents_field is None:
                    with pytest.raises(CodecError, match="raw"):
                        c.infer(model, {"INPUT0": data}, raw=False)
                    continue
                out = c.infer(model, {"INPUT0": data}, raw=raw)["OUTPUT0"]
                assert out.shape == data.shape, datatype
                assert out.dtype == data.dtype, datatype
                np.testing.assert_array_equal(out, data, err_msg=f"{datatype} raw={raw}")
            empty = data[:0]
            assert c.infer(model, {"INPUT0": empty})["OUTPUT0"].shape == empty.shape


def _batches(stats) -> dict[int, int]:
    return {b.batch_size: b.compute_infer.count for b in stats.batch_stats}


def test_concurrent_requests_are_batched_and_answered_correctly(target):
    async def burst():
        async with target.async_client() as c:
            before = (await c.statistics("add_sub", "1")).model_stats[0]
            inputs = [pair(1) for _ in range(32)]
            results = await asyncio.gather(*(c.infer("add_sub", x, version="1") for x in inputs))
            for x, r in zip(inputs, results):
                np.testing.assert_allclose(r["OUTPUT0"], x["INPUT0"] + x["INPUT1"], rtol=1e-6)
            return before, (await c.statistics("add_sub", "1")).model_stats[0]

    # The echo target's version 1 waits up to 0.25 s for 8 requests (tests/support/echo.py), so its burst
    # batches however loaded the machine is; other targets get three bursts.
    for _ in range(3):
        before, after = asyncio.run(burst())
        old, new = _batches(before), _batches(after)
        grown = {size for size, count in new.items() if size > 1 and count > old.get(size, 0)}
        if grown:
            break
    assert grown, f"32 concurrent requests never shared a batch: {new}"
    assert after.inference_count - before.inference_count == 32
    assert after.execution_count - before.execution_count < 32
    assert after.inference_stats.success.count == after.inference_count
    assert sum(b.compute_infer.count for b in after.batch_stats) == after.execution_count


def test_stream_infer_answers_in_order_and_survives_a_bad_request(target):
    good = [pair(1) for _ in range(4)]
    bad = {"INPUT0": np.zeros((1, 16), np.float32)}  # INPUT1 missing
    with client(target) as c:
        results = list(c.stream_infer("add_sub", [good[0], good[1], bad, good[2], good[3]], version="1"))
    assert len(results) == 5
    assert results[2].error and "INPUT1" in results[2].error and results[2].outputs is None
    for r, x in zip([results[i] for i in (0, 1, 3, 4)], good):
        assert r.error is None
        np.testing.assert_allclose(r.outputs["OUTPUT0"], x["INPUT0"] + x["INPUT1"], rtol=1e-6)
    assert [r.id for r in results] == ["0", "1", "2", "3", "4"]


def test_async_client_covers_every_rpc(target):
    async def run():
        async with target.async_client() as c:
            assert await c.is_server_live() and await c.is_server_ready()
            assert await c.is_model_ready("add_sub")
            assert (await c.server_metadata())["name"]
            assert (await c.model_metadata("add_sub")).name == "add_sub"
            out = await c.infer("add_sub", pair())
            assert set(out) == {"OUTPUT0", "OUTPUT1"}
            streamed = [r async for r in c.stream_infer("add_sub", [pair(), pair()])]
            assert all(r.error is None for r in streamed) and len(streamed) == 2
            index = await c.repository_index()
            assert any(e.name == "add_sub" and e.state == "READY" for e in index)
            stats = await c.statistics("add_sub")
            assert {s.version for s in stats.model_stats} == {"1", "2"}
            with pytest.raises(errors.NotFoundError):
                await c.infer("no_such_model", pair())
    asyncio.run(run())


# ------------------------------------------------------------------ repository and statistics

def test_repository_index_load_unload(target):
    with client(target) as c:
        index = c.repository_index()
        ready = {(e.name, e.version) for e in index if e.state == "READY"}
        assert {("add_sub", "1"), ("add_sub", "2")} <= ready
        if target.broken:
            broken = [e for e in index if e.name == target.broken]
            assert broken and broken[0].state == "UNAVAILABLE" and broken[0].reason
            assert all(e.state == "READY" for e in c.repository_index(ready_only=True))
            with pytest.raises(errors.UnavailableError, match=target.broken):
                c.load_model(target.broken)
        c.unload_model("add_sub")
        assert not c.is_model_ready("add_sub")
        with pytest.raises(errors.UnavailableError, match="add_sub"):
            c.infer("add_sub", pair())
        assert any(e.name == "add_sub" and e.state == "UNAVAILABLE" for e in c.repository_index())
        c.load_model("add_sub")
        assert c.is_model_ready("add_sub")
        assert set(c.infer("add_sub", pair())) == {"OUTPUT0", "OUTPUT1"}
        for bad in ("no_such_model", "../add_sub", "/etc/passwd"):
            with pytest.raises(errors.NotFoundError):
                c.load_model(bad)
        with pytest.raises(errors.NotFoundError):
            c.unload_model("no_such_model")


def test_statistics_count_requests(target):
    with client(target) as c:
        before = c.statistics("add_sub", "2").model_stats[0]
        for _ in range(3):
            c.infer("add_sub", pair(), version="2")
        after = c.statistics("add_sub", "2").model_stats[0]
        everything = c.statistics()
    assert after.inference_count == before.inference_count + 3
    assert after.inference_stats.success.count == before.inference_stats.success.count + 3
    assert after.inference_stats.success.ns > before.inference_stats.success.ns
    assert after.last_inference >= before.last_inference > 0 or before.inference_count == 0
    assert any(s.name == "add_sub" for s in everything.model_stats)


# ------------------------------------------------------------------ every error class

def test_unknown_model_and_version_are_not_found(target):
    expect_status(target, fp32_request("no_such_model"), grpc.StatusCode.NOT_FOUND, "no_such_model")
    request = fp32_request()
    request.model_version = "99"
    expect_status(target, request, grpc.StatusCode.NOT_FOUND, "version '99'")
    expect_status(target, pb.ModelMetadataRequest(name="nope"), grpc.StatusCode.NOT_FOUND, "nope",
                  rpc="ModelMetadata")
    expect_status(target, pb.ModelStatisticsRequest(name="nope"), grpc.StatusCode.NOT_FOUND, "nope",
                  rpc="ModelStatistics")


def test_signature_mismatches_are_invalid_argument(target):
    inv = grpc.StatusCode.INVALID_ARGUMENT
    expect_status(target, fp32_request(names=("INPUT0", "WRONG")), inv, "WRONG", "INPUT0: FP32 [-1, 16]")
    expect_status(target, fp32_request(names=("INPUT0",)), inv, "missing input 'INPUT1'")
    msg = expect_status(target, fp32_request(shape=(2, 16), datatype="INT32"), inv)
    assert "input 'INPUT0': expected FP32 [-1, 16], got INT32 [2, 16]" in msg
    expect_status(target, fp32_request(shape=(2, 15)), inv, "expected FP32 [-1, 16], got FP32 [2, 15]")
    expect_status(target, fp32_request(shape=(2, 16, 1)), inv, "[2, 16, 1]")
    request = fp32_request()
    request.outputs.add(name="NOPE")
    expect_status(target, request, inv, "no output 'NOPE'")


def test_malformed_tensors_are_invalid_argument(target):
    inv = grpc.StatusCode.INVALID_ARGUMENT
    expect_status(target, fp32_request(raw=b"\0" * 10), inv, "input 'INPUT0'", "10 bytes, expected 128")
    mixed = fp32_request()
    mixed.inputs[0].contents.fp32_contents.extend([1.0] * 32)
    expect_status(target, mixed, inv, "raw", "one or the other")
    if target.transport == "grpc":  # raw_input_contents has no REST form (binary data is per input)
        missing_raw = fp32_request()
        del missing_raw.raw_input_contents[1]
        expect_status(target, missing_raw, inv, "2 inputs but 1 raw_input_contents")
    expect_status(target, fp32_request(datatype="FP128"), inv, "unknown datatype 'FP128'")
    neg = fp32_request()
    neg.inputs[0].shape[0] = -2
    expect_status(target, neg, inv, "negative")
    absurd = fp32_request()
    absurd.inputs[0].shape[:] = [2**50, 2**50]
    expect_status(target, absurd, inv, "absurd")
    typed = pb.ModelInferRequest(model_name="add_sub")
    t = typed.inputs.add(name="INPUT0", datatype="FP32", shape=[2, 16])
    t.contents.fp32_contents.extend([1.0] * 31)
    expect_status(target, typed, inv, "expected 32 values in contents.fp32_contents", "got 31")
    expect_status(target, pb.ModelInferRequest(model_name="add_sub"), inv, "no inputs")


def test_malformed_bytes_prefix_is_invalid_argument(target):
    model = target.identity.get("BYTES")
    if model is None:
        pytest.skip("target serves no BYTES model")  # every service in this repo declares one
    request = pb.ModelInferRequest(model_name=model)
    request.inputs.add(name="INPUT0", datatype="BYTES", shape=[1, 2])
    request.raw_input_contents.append(b"\x03\x00\x00\x00abc\xff\x00\x00\x00ab")
    expect_status(target, request, grpc.StatusCode.INVALID_ARGUMENT, "element 1 claims 255 bytes")


def test_model_failure_is_internal_with_a_generic_message(target):
    if not target.faulty:
        pytest.skip("target has no faulty model")
    with client(target) as c, pytest.raises(errors.ServerError) as info:
        c.infer(target.faulty, {"INPUT0": np.ones((1, 1), np.float32)})
        assert c.is_server_live()
    assert info.value.code == grpc.StatusCode.INTERNAL
    assert "secret" not in info.value.message and "ref" in info.value.message
    with client(target) as c:
        assert set(c.infer("add_sub", pair())) == {"OUTPUT0", "OUTPUT1"}


def test_deadline_shorter_than_the_model_is_deadline_exceeded(target):
    if not target.slow:
        pytest.skip("target has no slow model")
    with client(target) as c:
        with pytest.raises(errors.DeadlineExceededError):
            c.infer(target.slow, {"INPUT0": np.ones((1, 1), np.float32)}, timeout=0.1)
        assert c.is_server_live()


def test_full_queue_is_resource_exhausted(target):
    if not target.slow:
        pytest.skip("target has no slow model")

    async def flood():
        async with target.async_client(timeout=20) as c:
            calls = [c.infer(target.slow, {"INPUT0": np.full((1, 1), i, np.float32)}) for i in range(8)]
            return await asyncio.gather(*calls, return_exceptions=True)

    results = asyncio.run(flood())
    refused = [r for r in results if isinstance(r, errors.ResourceExhaustedError)]
    served = [r for r in results if isinstance(r, dict)]
    assert refused and "queue full" in refused[0].message
    assert served, results
    assert len(refused) + len(served) == len(results), results


def test_missing_or_wrong_token_is_unauthenticated(target):
    if not target.token:
        pytest.skip("target runs without auth")
    for token in (None, "wrong"):
        with target.client(token=token) as c:
            with pytest.raises(errors.UnauthenticatedError, match="bearer token"):
                c.is_server_live()
            with pytest.raises(errors.UnauthenticatedError):
                c.infer("add_sub", pair())
    with client(target) as c:
        assert c.is_server_live()
