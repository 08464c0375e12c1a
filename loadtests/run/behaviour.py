"""Behaviour parity in the report: how two servers refuse the same bad requests, read from the
document of `python -m client parity --behaviour ... --json FILE` (schema "tandem.behaviour/1",
documented in `client.parity.behaviour`), or made from a `BehaviourReport` by the main job.

The report's section (report.json `models[].behaviour`)::

    {"source": str, "schema": str | null, "model": str | null,
     "verdict": "pass" | "fail" | "error",   # pass: no case failed (statuses alike, no INTERNAL, as expected)
     "a": {"url": str}, "b": {"url": str},
     "counts": {"cases", "same_status", "different_status", "same_message", "internal", "failed": int},
     "cases": [{"name", "family", "expect", "a": {"code", "message"}, "b": {"code", "message"},
                "same_status": bool, "same_message": bool, "failure": str | null}],
     "failures": [str], "error": str | null}

A model whose sides differ in status fails (verdict "fail"), as does any case the behaviour suite
fails; the main job counts it as a parity failure in its exit code.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..render.write import read_json

SCHEMA = "tandem.behaviour/1"


def _answer(side) -> dict:
    side = side if isinstance(side, Mapping) else {}
    return {"code": str(side.get("code", "?")), "message": str(side.get("message") or "")}


def _side(doc: Mapping, key: str) -> dict:
    side = doc.get(key)
    return {"url": str(side.get("url", ""))} if isinstance(side, Mapping) else {}


def section(doc: Mapping, source: str) -> dict:
    """The report's behaviour section from one behaviour document."""
    cases = []
    for c in doc.get("cases") or []:
        if not isinstance(c, Mapping):
            continue
        a, b = _answer(c.get("a")), _answer(c.get("b"))
        cases.append({"name": str(c.get("name", "?")), "family": str(c.get("family", "")),
                      "expect": str(c.get("expect", "")), "a": a, "b": b,
                      "same_status": a["code"] == b["code"],
                      "same_message": a["code"] == b["code"] and a["message"] == b["message"],
                      "failure": c.get("failure")})
    error = doc.get("error")
    if isinstance(error, Mapping):
        where = f"side {error['side']} ({error.get('url')}): " if error.get("side") else ""
        error = where + str(error.get("message", ""))
    failed = sum(bool(c["failure"]) for c in cases)
    same = sum(c["same_status"] for c in cases)
    if error or doc.get("exit_code") == 2:
        verdict = "error"
    else:
        verdict = "pass" if doc.get("passed") is True and failed == 0 and same == len(cases) else "fail"
    counts = {"cases": len(cases), "same_status": same, "different_status": len(cases) - same,
              "same_message": sum(c["same_message"] for c in cases),
              "internal": sum(ans["code"] in ("INTERNAL", "UNKNOWN") for c in cases for ans in (c["a"], c["b"])),
              "failed": failed}
    return {"source": source, "schema": doc.get("schema"), "model": doc.get("model"), "verdict": verdict,
            "a": _side(doc, "a"), "b": _side(doc, "b"), "counts": counts, "cases": cases,
            "failures": [str(f) for f in doc.get("failures") or []], "error": str(error) if error else None}


def read(path: str | Path, model: str | None = None) -> dict:
    """The behaviour section for `model` from a behaviour JSON file (one document or a list of
    them); ValueError when unreadable, of another schema, or about other models only."""
    path = Path(path)
    data = read_json(path, "behaviour file ")
    docs = [d for d in (data if isinstance(data, list) else [data]) if isinstance(d, Mapping)]
    docs = [d for d in docs if d.get("schema") == SCHEMA]
    if not docs:
        raise ValueError(f"behaviour file {path} holds no {SCHEMA} document (write one with "
                         "`python -m client parity --behaviour ... --json FILE`)")
    if model is not None:
        named = [d for d in docs if d.get("model") == model]
        if not named:
            found = ", ".join(sorted({str(d.get("model")) for d in docs})) or "none"
            raise ValueError(f"behaviour file {path} has no result for model '{model}' (it covers: {found})")
        docs = named
    return section(docs[0], str(path))

