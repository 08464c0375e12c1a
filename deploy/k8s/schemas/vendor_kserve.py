"""Vendor KServe's CRD schemas for the offline validation of deploy/k8s/kserve (tests/deploy/test_k8s_kserve.py).

    python deploy/k8s/schemas/vendor_kserve.py --tag v0.15.2 --crd-dir CHECKOUT/config/crd/full

reads `serving.kserve.io_servingruntimes.yaml` and `serving.kserve.io_inferenceservices.yaml` from a
checkout of github.com/kserve/kserve at TAG and writes, for the served version of each CRD, its
`openAPIV3Schema` as JSON into deploy/k8s/schemas/kserve/, with the source recorded in `$comment`.
The InferenceService schema is trimmed to what Tandem's manifests use (`spec.predictor` and its
pod-level fields): the other parts (explainer, transformer, status, the predictor's per-framework
specs and workerSpec) become `{"type": "object"}`, named in `x-tandem-trimmed`. Nothing else is
changed: the schema that is kept is KServe's, byte for byte in meaning.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

OUT = Path(__file__).resolve().parent / "kserve"
SOURCE = "https://github.com/kserve/kserve/blob/{tag}/config/crd/full/{file}"
CRDS = {
    "servingruntime": ("serving.kserve.io_servingruntimes.yaml", "v1alpha1"),
    "inferenceservice": ("serving.kserve.io_inferenceservices.yaml", "v1beta1"),
}
# InferenceService parts Tandem's manifests never set (JSON paths inside the schema's properties).
ISVC_TRIMMED = ("spec.explainer", "spec.transformer", "status", "spec.predictor.workerSpec",
                *(f"spec.predictor.{fw}" for fw in ("huggingface", "lightgbm", "onnx", "paddle", "pmml",
                                                     "pytorch", "sklearn", "tensorflow", "triton", "xgboost")))


def trim(schema: dict, paths: tuple[str, ...]) -> dict:
    for path in paths:
        node = schema
        *parents, leaf = path.split(".")
        for part in parents:
            node = node["properties"][part]
        node["properties"][leaf] = {"type": "object"}
    schema["x-tandem-trimmed"] = list(paths)
    return schema


def vendor(crd_dir: Path, tag: str) -> list[Path]:
    written = []
    for name, (file, version) in CRDS.items():
        crd = yaml.safe_load((crd_dir / file).read_text(encoding="utf-8"))
        (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
        schema = served["schema"]["openAPIV3Schema"]
        if name == "inferenceservice":
            schema = trim(schema, ISVC_TRIMMED)
        schema = {"$comment": f"KServe {tag}: {crd['spec']['group']}/{version} {crd['spec']['names']['kind']}, "
                              f"from {SOURCE.format(tag=tag, file=file)}", **schema}
        path = OUT / f"{name}-{version}.json"
        path.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tag", required=True, help="the KServe release tag the CRDs come from, e.g. v0.15.2")
    parser.add_argument("--crd-dir", type=Path, required=True, help="config/crd/full of a kserve checkout at --tag")
    args = parser.parse_args()
    for path in vendor(args.crd_dir, args.tag):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
