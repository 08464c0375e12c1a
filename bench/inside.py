"""What a service's own statistics (OIP ModelStatistics, Triton's fields) say about the rounds of a
measurement: where a request's time inside the server went, for the note on a missed target.

`watch(address, model)` reads the model's statistics before and after a block of rounds; the
difference covers the requests of those rounds only (baseline rounds in between do not touch the
service). From it: per request, the time from entering the model's path to its answer (`success`)
and the part spent queued for a batch (`queue`); per execution, the model's own run (compute input +
infer + output) and the requests it served. Whatever the server does beyond that (gRPC, decoding,
encoding) is the difference between a request's latency and these."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

_FIELDS = ("success", "queue", "compute_input", "compute_infer", "compute_output")


@dataclass(frozen=True)
class Counts:
    """A model's cumulative counters: (count, ns) per duration field, executions, inferences."""

    durations: dict[str, tuple[int, int]]
    executions: int
    inferences: int


def read(address: str, model: str, timeout_s: float = 30.0) -> Counts:
    import grpc

    from protos import grpc_predict_v2_pb2 as pb
    from protos import grpc_predict_v2_pb2_grpc as pb_grpc

    with grpc.insecure_channel(address) as channel:
        answer = pb_grpc.GRPCInferenceServiceStub(channel).ModelStatistics(pb.ModelStatisticsRequest(name=model),
                                                                           timeout=timeout_s)
    durations: dict[str, tuple[int, int]] = {f: (0, 0) for f in _FIELDS}
    executions = inferences = 0
    for stats in answer.model_stats:  # one per version
        executions += stats.execution_count
        inferences += stats.inference_count
        for f in _FIELDS:
            d = getattr(stats.inference_stats, f)
            count, ns = durations[f]
            durations[f] = (count + d.count, ns + d.ns)
    return Counts(durations, executions, inferences)


@dataclass
class Inside:
    """Per-request and per-execution averages over a span; `text` for a note ("" until filled)."""

    text: str = ""

    def fill(self, before: Counts, after: Counts) -> None:
        def mean_ms(field: str) -> float:
            count = after.durations[field][0] - before.durations[field][0]
            ns = after.durations[field][1] - before.durations[field][1]
            return ns / count / 1e6 if count else 0.0

        executions = after.executions - before.executions
        inferences = after.inferences - before.inferences
        if not executions or not inferences:
            self.text = ""
            return
        run_ms = sum(mean_ms(f) for f in ("compute_input", "compute_infer", "compute_output"))
        self.text = (f"inside the server (its ModelStatistics over these rounds) a request spent "
                     f"{mean_ms('success'):.3f} ms from the model's queue to its answer, {mean_ms('queue'):.3f} ms "
                     f"of it queued; the model's executions took {run_ms:.3f} ms each for "
                     f"{inferences / executions:.1f} requests on average")


@contextlib.contextmanager
def watch(address: str, model: str) -> Iterator[Inside]:
    """The statistics of `model` at `address` over the block (the text stays "" if the block fails)."""
    seen = Inside()
    before = read(address, model)
    yield seen
    seen.fill(before, read(address, model))
