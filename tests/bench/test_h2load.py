"""h2load as the benchmark's load generator for raw gRPC methods: it drives a real grpc.aio server,
counts only calls that got a good answer (h2load itself sees HTTP 200 for a failed gRPC call too),
and the Python client processes stand in where it is not installed. Asserts what was counted and
refused, not how fast."""

from __future__ import annotations

import math

import grpc
import numpy as np
import pytest

from bench import echo, h2load, loadgen
from client.messages import infer_request
from tests.support.aio_thread import serving

METHOD = "/inference.GRPCInferenceService/ModelInfer"
FLAKY = "/bench.Test/GoodOnce"
REQUEST = infer_request("mlp", {"x": np.zeros((1, 64), np.float32)}).SerializeToString()


def summary(done: int, data: int, failed: int = 0, succeeded: int | None = None) -> str:
    """h2load's own summary lines, as 1.52 prints them."""
    succeeded = done - failed if succeeded is None else succeeded
    return (f"finished in 2.00s, {done / 2:.2f} req/s, 35.00KB/s\n"
            f"requests: {done} total, {done + 3} started, {done} done, {succeeded} succeeded, {failed} failed, "
            "0 errored, 0 timeout\n"
            f"status codes: {done} 2xx, 0 3xx, 0 4xx, 0 5xx\n"
            "traffic: 1.04MB (1094341) total, 26.12KB (26745) headers (space savings 96.28%), "
            f"614.66KB ({data}) data\n")


def test_a_run_with_one_good_answer_per_request_is_counted():
    assert h2load.parse(summary(100, 100 * (66 + 5)), 66) == (100, 2.0)
    shorter = summary(100, 100 * (66 + 5)).replace("finished in 2.00s", "finished in 501.04ms")
    assert h2load.parse(shorter, 66) == (100, 0.50104)


@pytest.mark.parametrize("out, why", [
    (summary(100, 99 * (66 + 5)), "did not answer"),  # one call ended without a message: a gRPC error
    (summary(100, 100 * (66 + 5), failed=2), "failed"),
    (summary(0, 0), "0 done"),
    ("connection refused\n", "printed no"),
])
def test_a_run_with_anything_but_good_answers_fails(out, why):
    with pytest.raises(RuntimeError, match=why):
        h2load.parse(out, 66)


def test_streams_are_split_over_at_most_two_connections():
    assert h2load._connections(16) == (2, 8)
    assert h2load._connections(1) == (1, 1)
    assert h2load._connections(3) == (1, 3)


needs_h2load = pytest.mark.skipif(bool(h2load.missing()), reason=h2load.missing() or "installed")


@pytest.fixture(scope="module")
def echo_server():
    with serving(lambda: echo.start(0)) as server:
        yield server


@needs_h2load
def test_h2load_drives_a_grpc_server(echo_server, tmp_path):
    load = h2load.run(echo_server, METHOD, REQUEST, concurrency=4, duration_s=1.0, workdir=tmp_path)
    assert load.rps > 0 and load.p50_ms > 0
    assert not math.isnan(load.client_cores) and load.client_cores > 0


async def _good_once():
    """A server whose method answers its first call and fails every later one (UNAVAILABLE)."""
    calls = []

    async def handler(request: bytes, context) -> bytes:
        calls.append(1)
        if len(calls) > 1:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "only once")
        return request

    identity = bytes
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("bench.Test", {
        "GoodOnce": grpc.unary_unary_rpc_method_handler(handler, request_deserializer=identity,
                                                        response_serializer=identity)}),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"


@needs_h2load
def test_calls_that_fail_in_grpc_fail_the_measurement(tmp_path):
    """Every later call answers HTTP 200 with grpc-status UNAVAILABLE and no message: refused."""
    with serving(_good_once, "good once") as server:
        with pytest.raises(RuntimeError, match="did not answer"):
            h2load.run(server, FLAKY, REQUEST, concurrency=2, duration_s=0.5, workdir=tmp_path)


def test_python_clients_stand_in_for_a_missing_h2load(echo_server, tmp_path, monkeypatch):
    monkeypatch.setattr(loadgen.h2load, "missing", lambda: "h2load is not installed")
    load = loadgen.RawLoad(tmp_path)
    assert load.name(1) == "1 Python client process"
    assert load.name(16).endswith("Python client processes")
    assert load.run(echo_server, METHOD, REQUEST, 2, 0.5).rps > 0
