"""Reading the parity suite's JSON (`python -m client parity ... --json FILE`) into the report.

Written for schema "tandem.parity/1" (documented in `client.parity`) and tolerant of others: a
file may hold one document, a list of them, or {"models"/"results": [...]}; the document about
the compared model is used; unknown per-output fields become extra columns; a missing verdict
is shown as "unknown" rather than guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..render.write import read_json

KNOWN_COLUMNS = ("name", "datatype", "max_abs_diff", "max_rel_diff", "mean_abs_diff", "cosine_similarity",
                 "min_cosine_similarity", "mismatched_elements", "elements", "passed", "problem")
_SKIP = {"worst_sample"}


def _documents(data) -> list[Mapping]:
    if isinstance(data, list):
        return [d for d in data if isinstance(d, Mapping)]
    if isinstance(data, Mapping):
        for key in ("models", "results", "reports"):
            if isinstance(data.get(key), list):
                return [d for d in data[key] if isinstance(d, Mapping)]
        return [data]
    return []


def _model_of(doc: Mapping) -> str | None:
    if isinstance(doc.get("model"), str):
        return doc["model"]
    side = doc.get("a")
    return side.get("model") if isinstance(side, Mapping) else None


def verdict(doc: Mapping) -> str:
    """pass / fail / error / unknown."""
    if doc.get("error") or doc.get("exit_code") == 2:
        return "error"
    for key in ("passed", "ok", "within_tolerance"):
        if isinstance(doc.get(key), bool):
            return "pass" if doc[key] else "fail"
    text = str(doc.get("verdict", doc.get("status", ""))).lower()
    if text in ("pass", "passed", "ok"):
        return "pass"
    if text in ("fail", "failed"):
        return "fail"
    if doc.get("exit_code") in (0, 1):
        return "pass" if doc["exit_code"] == 0 else "fail"
    return "unknown"


def _rows(outputs) -> tuple[list[str], list[dict]]:
    if isinstance(outputs, Mapping):  # {name: {metrics}}
        outputs = [{"name": k, **v} if isinstance(v, Mapping) else {"name": k, "value": v}
                   for k, v in outputs.items()]
    rows = [dict(o) for o in outputs or [] if isinstance(o, Mapping)]
    extra = []
    for row in rows:
        for key, value in row.items():
            if key not in KNOWN_COLUMNS and key not in _SKIP and key not in extra \
                    and not isinstance(value, (Mapping, list)):
                extra.append(key)
    present = [c for c in KNOWN_COLUMNS if any(c in r for r in rows)]
    return present + extra, rows


def _side(doc: Mapping, key: str) -> dict:
    side = doc.get(key)
    if not isinstance(side, Mapping):
        return {}
    return {k: side.get(k) for k in ("url", "model", "version", "platform", "accuracy") if k in side}


def section(doc: Mapping, source: str) -> dict:
    """The report's parity section from one parity document."""
    columns, rows = _rows(doc.get("outputs"))
    error = doc.get("error")
    if isinstance(error, Mapping):
        where = f"side {error['side']} ({error.get('url')}): " if error.get("side") else ""
        error = where + str(error.get("message", ""))
    classification = doc.get("classification")
    return {
        "source": source, "schema": doc.get("schema"), "model": _model_of(doc), "verdict": verdict(doc),
        "a": _side(doc, "a"), "b": _side(doc, "b"),
        "tolerance": doc.get("tolerance") if isinstance(doc.get("tolerance"), Mapping) else None,
        "inputs": doc.get("inputs") if isinstance(doc.get("inputs"), Mapping) else None,
        "columns": columns, "rows": rows,
        "classification": classification if isinstance(classification, Mapping) else None,
        "failures": [str(f) for f in doc.get("failures") or []],
        "notes": [str(n) for n in doc.get("notes") or []],
        "error": str(error) if error else None,
    }


def read(path: str | Path, model: str | None = None) -> dict:
    """The parity section for `model` from a parity JSON file; ValueError when unreadable or about
    other models only."""
    path = Path(path)
    data = read_json(path, "parity file ")
    docs = _documents(data)
    if not docs:
        raise ValueError(f"parity file {path} holds no parity document")
    if model is not None:
        named = [d for d in docs if _model_of(d) == model]
        unnamed = [d for d in docs if _model_of(d) is None]
        if named:
            docs = named
        elif len(unnamed) == 1 and len(docs) == 1:
            docs = unnamed  # an error document names no model: take it as this model's
        else:
            found = ", ".join(sorted({m for m in map(_model_of, docs) if m})) or "none"
            raise ValueError(f"parity file {path} has no result for model '{model}' (it covers: {found})")
    return section(docs[0], str(path))
