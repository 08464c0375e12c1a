"""The outcome of a parity run: a verdict, the numbers behind it, JSON and a terminal table.
The JSON schema is documented in `client.parity`'s module docstring."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .compare import Classification, OutputDiff

SCHEMA = "tandem.parity/1"


@dataclass
class Side:
    """One of the two servers compared."""

    label: str  # "A" or "B"
    url: str
    model: str
    version: str  # requested version, "" for the server's default
    platform: str = ""
    versions: tuple[str, ...] = ()
    infer_seconds: float = 0.0  # wall time spent in ModelInfer calls

    def to_dict(self, classification: Classification | None) -> dict:
        accuracy = None
        if classification is not None and classification.labeled:
            correct = classification.correct_a if self.label == "A" else classification.correct_b
            accuracy = correct / classification.labeled
        return {"url": self.url, "model": self.model, "version": self.version or None,
                "platform": self.platform, "versions": list(self.versions),
                "infer_seconds": round(self.infer_seconds, 6), "accuracy": accuracy}


class Verdict:
    """A parity outcome: its `failures` (one line per difference) decide `passed` and `exit_code`."""

    @property
    def failures(self) -> list[str]:
        raise NotImplementedError

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1


@dataclass
class ParityReport(Verdict):
    """`passed` is True when every output is within tolerance (and top-1 agreement reaches
    `min_top1_agreement` when one was set); `exit_code` is then 0, else 1."""

    a: Side
    b: Side
    atol: float
    rtol: float
    inputs: dict
    signature: dict
    outputs: list[OutputDiff]
    classification: Classification | None = None
    min_top1_agreement: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def model(self) -> str:
        return self.a.model

    @property
    def failures(self) -> list[str]:
        out = []
        for o in self.outputs:
            if o.problem:
                out.append(f"output '{o.name}': {o.problem}")
            elif o.mismatched:
                d = o.to_dict()
                worst = "" if o.worst_sample is None else f", worst at sample {o.worst_sample}"
                out.append(f"output '{o.name}': {o.mismatched} of {o.elements} elements outside tolerance "
                           f"(max abs diff {_num(d['max_abs_diff'])}{worst})")
        c = self.classification
        if self.min_top1_agreement is not None and c is not None and c.samples:
            agreement = c.agreements / c.samples
            if agreement < self.min_top1_agreement:
                out.append(f"top-1 agreement {agreement:.2%} is below the required "
                           f"{self.min_top1_agreement:.2%}")
        return out

    def to_dict(self) -> dict:
        return {
            "schema": SCHEMA,
            "passed": self.passed,
            "exit_code": self.exit_code,
            "model": self.model,
            "a": self.a.to_dict(self.classification),
            "b": self.b.to_dict(self.classification),
            "tolerance": {"atol": self.atol, "rtol": self.rtol, "min_top1_agreement": self.min_top1_agreement},
            "inputs": dict(self.inputs),
            "signature": self.signature,
            "outputs": [o.to_dict() for o in self.outputs],
            "classification": None if self.classification is None else self.classification.to_dict(),
            "failures": self.failures,
            "notes": list(self.notes),
            "error": None,
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def render(self) -> str:
        """A readable table for a terminal."""
        return render(self)


def error_document(error, model: str | None = None) -> dict:
    """The JSON written instead of a report when parity could not be measured (exit code 2)."""
    return {"schema": SCHEMA, "passed": False, "exit_code": 2, "model": model, "error": error.to_dict()}


def _num(x, fmt: str = ".3e") -> str:
    return "n/a" if x is None else format(x, fmt)


def _side_line(side: Side) -> str:
    version = f" v{side.version}" if side.version else ""
    platform = f", {side.platform}" if side.platform else ""
    return f"  {side.label}: {side.url}  model '{side.model}'{version}{platform}  ({side.infer_seconds:.3f} s infer)"


def _inputs_line(inputs: dict) -> str:
    if inputs["source"] == "file":
        origin = f"from {inputs['path']}"
    elif inputs["source"] == "arrays":
        origin = "given by the caller"
    else:
        origin = f"generated (seed {inputs['seed']})"
    requests = inputs["requests"]
    return (f"inputs: {inputs['samples']} samples {origin}, {requests} request{'s' if requests != 1 else ''} "
            f"of at most {inputs['batch_size']}")


def render(report: ParityReport) -> str:
    lines = [f"parity of model '{report.model}'", _side_line(report.a), _side_line(report.b),
             _inputs_line(report.inputs), f"tolerance: atol={report.atol:g} rtol={report.rtol:g}", ""]
    header = ("output", "datatype", "max abs", "max rel", "mean abs", "cosine", "min cos", "outside tol", "")
    rows = [header]
    for o in report.outputs:
        d = o.to_dict()
        verdict = "ok" if o.passed else "FAIL"
        rows.append((o.name, o.datatype, _num(d["max_abs_diff"]), _num(d["max_rel_diff"]),
                     _num(d["mean_abs_diff"]), _num(d["cosine_similarity"], ".6f"),
                     _num(d["min_cosine_similarity"], ".6f"), f"{o.mismatched}/{o.elements}", verdict))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(header))]
    for r in rows:
        lines.append("  ".join(str(v).ljust(w) if i < 2 else str(v).rjust(w)
                               for i, (v, w) in enumerate(zip(r, widths))).rstrip())
    c = report.classification
    if c is not None:
        d = c.to_dict()
        lines.append("")
        if c.samples:
            lines.append(f"classification '{c.output}': top-1 agreement {d['top1_agreement']:.2%} "
                         f"({c.agreements}/{c.samples}, {d['disagreements']} disagree)")
        if c.labeled:
            lines.append(f"  accuracy on {c.labeled} labeled samples: A {d['accuracy_a']:.2%}, "
                         f"B {d['accuracy_b']:.2%}")
        if c.problem:
            lines.append(f"  not measured: {c.problem}")
    for note in report.notes:
        lines.append(f"note: {note}")
    lines.append("")
    if report.passed:
        lines.append("PASS: the two sides agree within tolerance")
    else:
        lines.append("FAIL: " + "; ".join(report.failures))
    return "\n".join(lines)
