"""The parity suite: do two OIP v2 servers give the same answers for the same model?

`run_parity(a, b, model, ...)` sends identical inputs (an .npz file, arrays, or inputs generated
from the ModelMetadata, see `client.parity.generate`) to both servers through the client library,
and returns a `ParityReport`: per output the max abs / max rel / mean abs difference and the
cosine similarity (definitions in `client.parity.compare`), for classifiers (ModelMetadata
property `"classification_output": "<output>"`) top-1 agreement and, with labels, each side's
accuracy. Both ModelMetadata answers must have the same input and output names, datatypes and
shapes. `python -m client parity ...` is its command line.

Outcomes: `report.passed` / exit code 0 when every output is within tolerance
(|A - B| <= atol + rtol * max(|A|, |B|) for every element), 1 when not, and `ParityError` /
exit code 2 when parity cannot be measured (a side down or lacking the model, different
signatures, inputs not matching the signature); its message names the side and what differs.

JSON document (`report.to_json()`, `--json OUT`), schema "tandem.parity/1"::

    {
      "schema": "tandem.parity/1",
      "passed": bool,                  # every output within tolerance (and top-1 threshold met)
      "exit_code": 0 | 1 | 2,          # 2: parity could not be measured, see "error"
      "model": str,                    # the model name on side A
      "a": Side, "b": Side,
      "tolerance": {"atol": float, "rtol": float, "min_top1_agreement": float | null},
      "inputs": {"source": "file" | "arrays" | "generated", "path": str | null,
                 "seed": int | null, "samples": int, "batch_size": int, "requests": int,
                 "labels": bool},
      "signature": {"inputs": [Tensor], "outputs": [Tensor]},
      "outputs": [Output],
      "classification": Classification | null,   # null unless the model is a classifier
      "failures": [str],               # why it failed, one line per cause; [] when passed
      "notes": [str],                  # e.g. properties that differ between the sides
      "error": null | {"side": "A" | "B" | null, "url": str | null, "message": str}
    }
    Side = {"url": str, "model": str, "version": str | null, "platform": str,
            "versions": [str], "infer_seconds": float, "accuracy": float | null}
    Tensor = {"name": str, "datatype": str, "shape": [int]}          # -1 = variable
    Output = {"name": str, "datatype": str, "elements": int, "mismatched_elements": int,
              "max_abs_diff": float | null, "max_rel_diff": float | null,
              "mean_abs_diff": float | null, "cosine_similarity": float | null,
              "min_cosine_similarity": float | null, "worst_sample": int | null,
              "passed": bool, "problem": str | null}
    Classification = {"output": str, "samples": int, "top1_agreement": float | null,
                      "disagreements": int, "labeled_samples": int,
                      "accuracy_a": float | null, "accuracy_b": float | null,
                      "problem": str | null}

Numbers are null where undefined or not finite (e.g. BYTES outputs, a NaN on one side only);
`worst_sample` is the index of the sample with the largest absolute difference. When parity could
not be measured, the document holds only "schema", "passed" (false), "exit_code" (2), "model"
and "error".
"""

from .errors import ParityError
from .generate import InputGenerator, Limits
from .report import SCHEMA, ParityReport, Side, error_document
from .runner import run_parity
from .signature import signature_differences

__all__ = ["SCHEMA", "InputGenerator", "Limits", "ParityError", "ParityReport", "Side", "error_document",
           "run_parity", "signature_differences"]
