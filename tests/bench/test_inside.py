"""The note on a missed target quotes the service's own ModelStatistics over the subject's rounds:
read from a real server, as differences (what happened before the rounds does not count); the
profile comes from one more measurement after them."""

from __future__ import annotations

import contextlib
import os

import grpc
import numpy as np

from bench import harness, inside
from bench.harness import Load, Server, Settings
from client.messages import infer_request
from protos import grpc_predict_v2_pb2_grpc as pb_grpc
from server_core.repository import RepositoryBackend
from server_core.runner import BackgroundServer
from tests.support.echo import EchoLoader, identity_name

MODEL = identity_name("FP32")


def _infer(address: str, times: int) -> None:
    request = infer_request(MODEL, {"INPUT0": np.ones((1, 4), np.float32)})
    with grpc.insecure_channel(address) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        for _ in range(times):
            stub.ModelInfer(request, timeout=30)


def test_watch_counts_only_the_requests_of_its_block():
    with BackgroundServer(RepositoryBackend(EchoLoader(), [MODEL])) as srv:
        _infer(srv.address, 3)  # before the block: not counted
        with inside.watch(srv.address, MODEL) as seen:
            assert seen.text == ""
            _infer(srv.address, 5)
        before = inside.read(srv.address, MODEL)
    assert before.inferences == 8 and before.executions == 8
    assert "ModelStatistics over these rounds" in seen.text
    assert "took" in seen.text and "each for 1.0 requests on average" in seen.text


def test_no_requests_in_the_block_says_nothing():
    counts = inside.Counts({f: (1, 1000) for f in inside._FIELDS}, executions=1, inferences=1)
    seen = inside.Inside()
    seen.fill(counts, counts)
    assert seen.text == ""


def test_averages_are_per_request_and_per_execution():
    before = inside.Counts({f: (0, 0) for f in inside._FIELDS}, 0, 0)
    after = inside.Counts({"success": (8, 8_000_000), "queue": (8, 2_000_000), "compute_input": (2, 200_000),
                           "compute_infer": (2, 1_000_000), "compute_output": (2, 200_000)}, executions=2,
                          inferences=8)
    seen = inside.Inside()
    seen.fill(before, after)
    assert "1.000 ms from the model's queue to its answer, 0.250 ms of it queued" in seen.text
    assert "took 0.700 ms each for 4.0 requests on average" in seen.text


class _RecordingProfiler:
    """Stands in for py-spy: records when it was attached."""

    def __init__(self, events: list):
        self.events = events

    @contextlib.contextmanager
    def attach(self, pid: int, name: str):
        self.events.append(f"attach {name}")
        yield
        self.events.append("detach")


def test_compare_reads_the_counts_over_its_rounds_and_profiles_one_more_measurement(tmp_path):
    events: list = []
    with BackgroundServer(RepositoryBackend(EchoLoader(), [MODEL])) as srv:
        server = Server(srv.address, os.getpid(), "echo backend")

        def subject():
            events.append("subject")
            _infer(srv.address, 2)
            return Load(100.0, 1.0)

        def baseline():
            events.append("baseline")
            return Load(200.0, 1.0)

        settings = Settings(quick=True, workdir=tmp_path, profiler=_RecordingProfiler(events))
        s, b = harness.compare(settings, server, "echo-2", subject, baseline, MODEL)
        counted = inside.read(srv.address, MODEL).inferences
    assert events == ["subject", "baseline"] * settings.rounds + ["attach echo-2", "subject", "detach"]
    assert counted == 2 * (settings.rounds + 1)
    assert "each for 1.0 requests on average" in s.inside and b.inside == ""
    assert s.rps == 100.0 and b.rps == 200.0  # the profiled measurement is not among the rounds
