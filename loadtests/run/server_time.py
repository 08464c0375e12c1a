"""Where the server's time goes, for targets that keep OIP ModelStatistics (and ModelConfig): over
gRPC (`grpc://`) or as their REST JSON forms (`http://`), each kind asking in its own way
(`Kind.statistics`, `Kind.model_config` in loadtests.targets).

`snapshot()` reads the model's cumulative statistics; `split(before, after)` turns two snapshots
into per-request averages over the window between them: queue, compute input, compute infer,
compute output (ms) and the batch sizes executed (a histogram of executions). `config()` is the
model's batching / instance settings as the server states them (ModelConfig), when it answers.
A server without these (UNIMPLEMENTED, 404) or a kind without them gives None: the report then
shows client-side latency only and says so.
"""

from __future__ import annotations

from google.protobuf.json_format import MessageToDict

from ..targets import Target, kind_of

TIMEOUT_S = 5.0
PHASES = ("queue", "compute_input", "compute_infer", "compute_output")


def snapshot(target: Target, model: str, version: str = "") -> dict | None:
    kind = kind_of(target)
    if not kind.reports_server_time:
        return None
    answer = kind.statistics(target, model, version, TIMEOUT_S)
    if answer is None or not answer.model_stats:
        return None
    s = answer.model_stats[0]
    st = s.inference_stats
    return {"inference_count": s.inference_count, "execution_count": s.execution_count,
            "success": [st.success.count, st.success.ns],
            **{p: [getattr(st, p).count, getattr(st, p).ns] for p in PHASES},
            "batches": {str(b.batch_size): b.compute_infer.count for b in s.batch_stats}}


def config(target: Target, model: str, version: str = "") -> dict | None:
    kind = kind_of(target)
    if not kind.reports_server_time:
        return None
    answer = kind.model_config(target, model, version, TIMEOUT_S)
    return None if answer is None else MessageToDict(answer, preserving_proto_field_name=True)


def split(before: dict | None, after: dict | None) -> dict | None:
    """Per-request ms of each phase over the window, and the batch-size histogram; None if unknown."""
    if not before or not after:
        return None
    requests = after["success"][0] - before["success"][0]
    if requests <= 0:
        return None
    out = {"requests": requests, "executions": after["execution_count"] - before["execution_count"],
           "success_ms": round((after["success"][1] - before["success"][1]) / requests / 1e6, 4)}
    for p in PHASES:  # each phase over the requests it counted (a batch counts each of its requests)
        count = after[p][0] - before[p][0]
        out[f"{p}_ms"] = round((after[p][1] - before[p][1]) / count / 1e6, 4) if count > 0 else None
    hist = {k: v - before["batches"].get(k, 0) for k, v in after["batches"].items()}
    out["batch_sizes"] = {k: v for k, v in sorted(hist.items(), key=lambda kv: int(kv[0])) if v > 0}
    return out
