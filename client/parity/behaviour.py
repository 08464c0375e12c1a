"""Behaviour parity: do two OIP v2 servers refuse the same bad requests the same way?

`run_behaviour(a, b, model)` reads both sides' ModelMetadata (their signatures must agree), builds
the behaviour corpus from it (`client.parity.corpus`), sends every case to both sides as a raw
ModelInfer (no retries, so each answer is the server's first) and returns a `BehaviourReport`.
`python -m client parity --behaviour ...` is its command line.

A case fails when the two statuses differ, when either side answers INTERNAL or UNKNOWN (a client's
mistake is never a server fault), or when the status breaks the case's expectation (OK for the valid
request; an error for a request any correct server refuses). The report passes when no case fails:
exit code 0, else 1; `ParityError` (exit code 2) when it cannot run (a side down or lacking the
model, different signatures).

JSON document (`report.to_dict()`, `--json OUT`), schema "tandem.behaviour/1"::

    {
      "schema": "tandem.behaviour/1",
      "passed": bool, "exit_code": 0 | 1 | 2,
      "model": str,
      "a": {"url": str, "model": str}, "b": {"url": str, "model": str},
      "summary": {"cases": int, "same_status": int, "same_message": int, "internal": int,
                  "unexpected": int, "failed": int},
      "cases": [{"name": str, "family": str, "expect": "OK" | "error" | "any",
                 "a": {"code": str, "message": str}, "b": {"code": str, "message": str},
                 "same_status": bool, "same_message": bool, "failure": str | null}],
      "failures": [str],               # one line per failed case
      "error": null | {"side": "A" | "B" | null, "url": str | null, "message": str}
    }

`code` is the gRPC status name ("OK", "INVALID_ARGUMENT", ...); `message` is "" for OK. When the
corpus could not run the document holds only "schema", "passed" (false), "exit_code" (2),
"model" and "error".
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc

from protos import grpc_predict_v2_pb2 as pb
from protos import grpc_predict_v2_pb2_grpc as pb_grpc

from .. import messages
from ..channel import ChannelSettings, open_channel
from .corpus import ANY, ERROR, OK, Case, corpus
from .errors import ParityError
from .report import Verdict
from .signature import signature_differences

SCHEMA = "tandem.behaviour/1"
SERVER_FAULTS = ("INTERNAL", "UNKNOWN")
MESSAGE_WIDTH = 70


@dataclass(frozen=True)
class Answer:
    code: str
    message: str

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message}


@dataclass
class CaseResult:
    case: Case
    a: Answer
    b: Answer

    @property
    def same_status(self) -> bool:
        return self.a.code == self.b.code

    @property
    def same_message(self) -> bool:
        return self.same_status and self.a.message == self.b.message

    @property
    def failure(self) -> str | None:
        if not self.same_status:
            return f"statuses differ: {self.a.code} on A, {self.b.code} on B"
        faults = [side for side, ans in (("A", self.a), ("B", self.b)) if ans.code in SERVER_FAULTS]
        if faults:
            return f"{self.a.code} (a server fault) on {' and '.join(faults)} for a client's mistake"
        expect = self.case.expect
        if expect == OK and self.a.code != "OK":
            return f"a valid request answered {self.a.code}"
        if expect == ERROR and self.a.code == "OK":
            return "a bad request answered OK on both sides"
        return None

    def to_dict(self) -> dict:
        return {"name": self.case.name, "family": self.case.family, "expect": self.case.expect,
                "a": self.a.to_dict(), "b": self.b.to_dict(), "same_status": self.same_status,
                "same_message": self.same_message, "failure": self.failure}


@dataclass
class BehaviourReport(Verdict):
    model: str
    a_url: str
    b_url: str
    results: list[CaseResult] = field(default_factory=list)
    model_b: str | None = None

    @property
    def failures(self) -> list[str]:
        return [f"{r.case.name}: {r.failure}" for r in self.results if r.failure]

    def summary(self) -> dict:
        rs = self.results
        return {"cases": len(rs), "same_status": sum(r.same_status for r in rs),
                "same_message": sum(r.same_message for r in rs),
                "internal": sum(ans.code in SERVER_FAULTS for r in rs for ans in (r.a, r.b)),
                "unexpected": sum(bool(r.failure) and r.same_status for r in rs),
                "failed": sum(bool(r.failure) for r in rs)}

    def to_dict(self) -> dict:
        return {"schema": SCHEMA, "passed": self.passed, "exit_code": self.exit_code, "model": self.model,
                "a": {"url": self.a_url, "model": self.model},
                "b": {"url": self.b_url, "model": self.model_b or self.model},
                "summary": self.summary(), "cases": [r.to_dict() for r in self.results],
                "failures": self.failures, "error": None}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def render(self) -> str:
        """A table: one row per case (status on A and B, A's message, B's when it differs), then a verdict."""
        rows = [("case", "A", "B", "", "message")]
        for r in self.results:
            mark = "FAIL" if r.failure else ("" if r.same_message else "~")
            message = r.a.message if r.same_message or not r.b.message else f"A: {r.a.message} | B: {r.b.message}"
            rows.append((r.case.name, r.a.code, r.b.code, mark, _short(message)))
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        lines = ["  ".join(cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(row)).rstrip()
                 for row in rows]
        s = self.summary()
        lines.append("")
        lines.append(f"model {self.model}: {s['cases']} cases, {s['same_status']} with the same status, "
                     f"{s['same_message']} with the same message, {s['internal']} INTERNAL/UNKNOWN answers, "
                     f"{s['failed']} failed (~: same status, different message)")
        lines += [f"  FAIL {line}" for line in self.failures]
        lines.append("PASS: both sides behave the same" if self.passed else "FAIL: the sides behave differently")
        return "\n".join(lines)


def error_document(error: ParityError, model: str) -> dict:
    return {"schema": SCHEMA, "passed": False, "exit_code": 2, "model": model, "error": error.to_dict()}


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_WIDTH else text[:MESSAGE_WIDTH - 3] + "..."


class _Side:
    """One server: a channel without retries, ModelMetadata and raw ModelInfer."""

    def __init__(self, label: str, url: str, options: Mapping[str, Any]):
        self.label = label
        self.settings = ChannelSettings(url, **{**dict(options), "max_attempts": 1})
        self.channel = open_channel(self.settings, grpc)
        self.stub = pb_grpc.GRPCInferenceServiceStub(self.channel)

    def metadata(self, model: str, version: str):
        try:
            response = self.stub.ModelMetadata(pb.ModelMetadataRequest(name=model, version=version),
                                               timeout=self.settings.timeout, metadata=self.settings.metadata())
        except grpc.RpcError as e:
            raise ParityError(f"ModelMetadata of '{model}' failed: {e.code().name}: {e.details()}", self.label,
                              self.settings.url) from None
        return messages.model_metadata(response)

    def infer(self, request: pb.ModelInferRequest) -> Answer:
        try:
            self.stub.ModelInfer(request, timeout=self.settings.timeout, metadata=self.settings.metadata())
        except grpc.RpcError as e:
            return Answer(e.code().name, e.details() or "")
        return Answer("OK", "")

    def close(self) -> None:
        self.channel.close()


def run_behaviour(a: str, b: str, model: str, *, model_b: str | None = None, version: str | None = None,
                  seed: int = 0, client_options: Mapping[str, Any] | None = None) -> BehaviourReport:
    """Send the behaviour corpus of `model` to servers `a` and `b` (HOST:PORT). `client_options`
    (timeout, token, tls, root_certificates, ...) apply to both sides. Returns a BehaviourReport;
    raises ParityError when the corpus cannot run."""
    options = dict(client_options or {})
    with contextlib.ExitStack() as stack:
        side_a, side_b = _Side("A", a, options), _Side("B", b, options)
        stack.callback(side_a.close)
        stack.callback(side_b.close)
        meta_a = side_a.metadata(model, version or "")
        meta_b = side_b.metadata(model_b or model, version or "")
        diffs = signature_differences(meta_a, meta_b)
        if diffs:
            raise ParityError("the two signatures differ: " + "; ".join(diffs))
        try:
            cases = corpus(meta_a, version=version or "", seed=seed)
        except ValueError as e:
            raise ParityError(f"cannot build the behaviour corpus: {e}") from None
        report = BehaviourReport(model, side_a.settings.url, side_b.settings.url, model_b=model_b)
        for case in cases:
            report.results.append(CaseResult(case, side_a.infer(case.request), _b_answer(side_b, case, model, model_b)))
    return report


def _b_answer(side: _Side, case: Case, model: str, model_b: str | None) -> Answer:
    """Side B's answer; requests naming the model go to B's name for it when that differs."""
    if model_b is None or case.request.model_name != model:
        return side.infer(case.request)
    request = pb.ModelInferRequest()
    request.CopyFrom(case.request)
    request.model_name = model_b
    return side.infer(request)


__all__ = ["ANY", "ERROR", "OK", "SCHEMA", "BehaviourReport", "CaseResult", "error_document", "run_behaviour"]
