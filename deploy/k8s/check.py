"""Offline check of deploy/k8s: render every target with `kubectl kustomize`, validate every object,
apply the policy. No cluster is needed.

    python -m deploy.k8s.check            # exit 0: every target renders, validates and passes the policy

Validation: Kubernetes objects against the OpenAPI schemas of `kubernetes-validate` in strict mode
(unknown fields rejected) for each of KUBERNETES_VERSIONS; KServe's ServingRuntime and
InferenceService against the CRD schemas vendored in deploy/k8s/schemas/kserve (KServe v0.15.2),
made strict the same way. Policy (`policy_problems`): every container has CPU and memory limits,
runs as non-root with a read-only root file system, no privilege escalation and every capability
dropped, under seccomp RuntimeDefault; every long-running container has readiness and liveness
probes (the services' gRPC ones `grpc:` probes); every image is pinned to a tag that is not
`latest`; no Service is of type LoadBalancer or NodePort; a NetworkPolicy selects every pod.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

K8S_DIR = Path(__file__).resolve().parent
# The oldest Kubernetes the manifests support (native sidecar containers are on by default from
# 1.29) and a current one; kubernetes-validate ships the schemas of both.
KUBERNETES_VERSIONS = ("1.29.0", "1.33.0")
KSERVE_VERSION = "v0.15.2"
KSERVE_SCHEMAS = {("serving.kserve.io/v1alpha1", "ServingRuntime"): "servingruntime-v1alpha1.json",
                  ("serving.kserve.io/v1beta1", "InferenceService"): "inferenceservice-v1beta1.json"}
# Containers that listen on no port and so have nothing to probe (compose gives them no health check).
UNPROBED = {"locust-worker"}
# Containers that serve gRPC on the services' health protocol: their probes must be `grpc:` probes.
GRPC_SERVICES = {"torch-service", "tf-service"}
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ServingRuntime"}


@dataclass(frozen=True)
class Target:
    """A kustomization to render: a folder of deploy/k8s, optionally with components added."""
    path: str  # relative to deploy/k8s
    components: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return "+".join((self.path, *self.components))


TARGETS = (
    Target("overlays/cpu"),
    Target("overlays/gpu"),
    Target("overlays/cpu", ("components/autoscaling", "components/shared-storage")),
    Target("overlays/gpu", ("components/autoscaling-inflight",)),
    Target("models"),
    Target("kserve"),
)


def kubectl() -> str | None:
    return shutil.which("kubectl")


def kustomize(folder: Path) -> list[dict]:
    """`kubectl kustomize FOLDER` as a list of objects; RuntimeError with kubectl's message on failure."""
    exe = kubectl()
    if exe is None:
        raise RuntimeError("kubectl is not installed: it renders the kustomizations (`kubectl kustomize`)")
    result = subprocess.run([exe, "kustomize", str(folder)], capture_output=True, text=True, timeout=120,
                            check=False)
    if result.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {folder} failed:\n{result.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def kustomization_text(resources: list[Path], components: list[Path], where: Path, extra: str = "") -> str:
    """A kustomization in folder `where` over other folders (kustomize takes only relative paths)."""
    rel = [os.path.relpath(p, where) for p in resources]
    comp = [os.path.relpath(p, where) for p in components]
    doc = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": rel}
    if comp:
        doc["components"] = comp
    return yaml.safe_dump(doc, sort_keys=False) + extra


def render(target: Target, extra: str = "") -> list[dict]:
    """The target's objects; with components or `extra` kustomization text, through a temporary overlay."""
    if not target.components and not extra:
        return kustomize(K8S_DIR / target.path)
    with tempfile.TemporaryDirectory(prefix="tandem-k8s-") as tmp:
        text = kustomization_text([K8S_DIR / target.path], [K8S_DIR / c for c in target.components], Path(tmp), extra)
        (Path(tmp) / "kustomization.yaml").write_text(text, encoding="utf-8")
        return kustomize(Path(tmp))


# ---------------------------------------------------------------- validation
def _strict(schema: object) -> object:
    """A CRD schema that rejects unknown fields, as the API server's pruning would silently drop them."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if ("properties" in out and "additionalProperties" not in out
                and not out.get("x-kubernetes-preserve-unknown-fields")):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@functools.cache
def _crd_validator(file: str):
    import jsonschema

    schema = json.loads((K8S_DIR / "schemas" / "kserve" / file).read_text(encoding="utf-8"))
    # metadata is `{"type": "object"}` in a CRD: the API server checks it; check its usual fields here.
    schema["properties"]["metadata"] = {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string"}, "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}}}}
    return jsonschema.Draft7Validator(_strict(schema))


def validation_errors(obj: dict, version: str) -> list[str]:
    """Why `obj` is not a valid object of Kubernetes `version` (empty when it is)."""
    where = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
    crd = KSERVE_SCHEMAS.get((str(obj.get("apiVersion")), str(obj.get("kind"))))
    if crd is not None:
        return [f"{where}: {'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message} (KServe {KSERVE_VERSION})"
                for e in _crd_validator(crd).iter_errors(obj)]
    import kubernetes_validate

    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as e:
        return [f"{where}: {'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message} "
                f"(Kubernetes {version})"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{where}: no schema for {obj.get('apiVersion')} {obj.get('kind')} in Kubernetes {version}"]
    return []


# ---------------------------------------------------------------- policy
def pod_spec(obj: dict) -> dict | None:
    kind = obj.get("kind")
    if kind == "ServingRuntime":
        return obj["spec"]
    if kind == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    if kind in WORKLOADS:
        return obj["spec"]["template"]["spec"]
    return None


def containers(obj: dict) -> Iterator[tuple[dict, bool]]:
    """(container, long_running) for every container of a workload; init containers that are
    native sidecars (restartPolicy Always) run as long as the pod."""
    spec = pod_spec(obj)
    if spec is None:
        return
    job = obj["kind"] in ("Job", "CronJob")
    for c in spec.get("initContainers", []):
        yield c, c.get("restartPolicy") == "Always"
    for c in spec.get("containers", []):
        yield c, not job


def _pinned(image: str) -> bool:
    name, _, digest = image.partition("@")
    tag = name.rsplit("/", 1)[-1].partition(":")[2]
    return bool(digest) or (bool(tag) and tag != "latest")


def container_problems(c: dict, pod: dict, long_running: bool) -> list[str]:
    problems = []
    limits = c.get("resources", {}).get("limits", {})
    problems += [f"no {r} limit" for r in ("cpu", "memory") if r not in limits]
    sc = {**{k: v for k, v in pod.get("securityContext", {}).items()
             if k in ("runAsNonRoot", "runAsUser", "seccompProfile")}, **c.get("securityContext", {})}
    if sc.get("runAsNonRoot") is not True:
        problems.append("runAsNonRoot is not true")
    if sc.get("runAsUser") == 0:
        problems.append("runs as uid 0")
    if sc.get("readOnlyRootFilesystem") is not True:
        problems.append("root file system not read-only")
    if sc.get("allowPrivilegeEscalation") is not False or sc.get("privileged"):
        problems.append("may escalate privileges")
    caps = sc.get("capabilities", {})
    if caps.get("drop") != ["ALL"] or caps.get("add"):
        problems.append("capabilities not all dropped")
    if sc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        problems.append("seccomp profile is not RuntimeDefault")
    if not _pinned(c.get("image", "")):
        problems.append(f"image {c.get('image')!r} not pinned to a tag")
    if long_running and c["name"] not in UNPROBED:
        for probe in ("readinessProbe", "livenessProbe"):
            if probe not in c:
                problems.append(f"no {probe}")
            elif c["name"] in GRPC_SERVICES | {"kserve-container"} and "grpc" not in c[probe]:
                problems.append(f"{probe} is not a gRPC health probe")
    return problems


def policy_problems(objects: list[dict], network_policy: bool = True) -> list[str]:
    """Everything in `objects` that breaks the policy of the module docstring. `network_policy`:
    whether the pods must be selected by a NetworkPolicy of the same objects."""
    problems = []
    policed = {o["metadata"].get("namespace") for o in objects
               if o["kind"] == "NetworkPolicy" and o["spec"].get("podSelector") == {}}
    for obj in objects:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["kind"] == "Service" and obj["spec"].get("type", "ClusterIP") in ("LoadBalancer", "NodePort"):
            problems.append(f"{where}: exposed outside the cluster (type {obj['spec']['type']})")
        spec = pod_spec(obj)
        if spec is None:
            continue
        for c, long_running in containers(obj):
            problems += [f"{where} container {c['name']}: {p}" for p in container_problems(c, spec, long_running)]
        if network_policy and obj["metadata"].get("namespace") not in policed:
            problems.append(f"{where}: no NetworkPolicy selects its pods")
    return problems


def check(versions: tuple[str, ...] = KUBERNETES_VERSIONS) -> list[str]:
    problems = []
    for target in TARGETS:
        try:
            objects = render(target)
        except RuntimeError as e:
            problems.append(f"{target.name}: {e}")
            continue
        for obj in objects:
            for version in versions:
                problems += [f"{target.name}: {p}" for p in validation_errors(obj, version)]
        # The overlays bring their NetworkPolicies; models and kserve are applied with the zoo
        # alone (KServe's ingress, not Tandem, decides who reaches an InferenceService).
        problems += [f"{target.name}: {p}" for p in policy_problems(objects, target.path.startswith("overlays/"))]
    return problems


def main() -> int:
    problems = check()
    for p in problems:
        print(p, file=sys.stderr)
    print(f"deploy/k8s: {len(TARGETS)} targets, Kubernetes {', '.join(KUBERNETES_VERSIONS)}: "
          + (f"{len(problems)} problems" if problems else "rendered, valid, policy met"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

