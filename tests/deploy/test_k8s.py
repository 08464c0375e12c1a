"""deploy/k8s without a cluster: every target renders (`kubectl kustomize`) and validates (Kubernetes
schemas, strict, two versions; KServe's vendored CRD schemas), meets the policy, and agrees with
docker-compose.yml where it should; the README's commands are the ones rendered here."""

from __future__ import annotations

import copy
import functools
import json
import re
import shutil

import pytest

from deploy.k8s import check
from deploy.k8s.check import K8S_DIR, KUBERNETES_VERSIONS, TARGETS, Target

from .support import ROOT

if shutil.which("kubectl") is None:
    print("tests/deploy/test_k8s*.py skipped: kubectl is not installed (it renders the kustomizations)")
    pytest.skip("kubectl is not installed: it renders the kustomizations (`kubectl kustomize`)",
                allow_module_level=True)

README = K8S_DIR / "README.md"


@functools.cache
def rendered(target: Target) -> tuple[dict, ...]:
    return tuple(check.render(target))


def objects(target: Target, kind: str | None = None) -> list[dict]:
    return [copy.deepcopy(o) for o in rendered(target) if kind is None or o["kind"] == kind]


def find(target: Target, kind: str, name: str) -> dict:
    (obj,) = [o for o in objects(target, kind) if o["metadata"]["name"] == name]
    return obj


CPU, GPU = Target("overlays/cpu"), Target("overlays/gpu")


# ---------------------------------------------------------------- render and validate
@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
def test_target_renders_validates_and_meets_the_policy(target):
    objs = objects(target)
    assert objs, f"{target.name} rendered nothing"
    problems = [p for o in objs for v in KUBERNETES_VERSIONS for p in check.validation_errors(o, v)]
    assert problems == []
    assert check.policy_problems(objs, target.path.startswith("overlays/")) == []


def test_the_check_command_passes(capsys):
    assert check.main() == 0
    assert "policy met" in capsys.readouterr().out


def test_validation_rejects_unknown_fields_and_wrong_types():
    deployment = find(CPU, "Deployment", "torch-service")
    deployment["spec"]["replica"] = 2  # a typo the API server would reject
    assert any("replica" in p for p in check.validation_errors(deployment, KUBERNETES_VERSIONS[0]))
    runtime = find(Target("kserve"), "ServingRuntime", "tandem-torch")
    runtime["spec"]["protocolVersion"] = ["grpc-v2"]  # singular: KServe would silently prune it
    assert any("protocolVersion" in p for p in check.validation_errors(runtime, KUBERNETES_VERSIONS[0]))
    isvc = objects(Target("kserve"), "InferenceService")[0]
    isvc["spec"]["predictor"]["minReplicas"] = "one"
    assert any("minReplicas" in p for p in check.validation_errors(isvc, KUBERNETES_VERSIONS[0]))


def test_the_policy_catches_each_violation():
    objs = objects(CPU)
    torch = next(o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == "torch-service")
    c = torch["spec"]["template"]["spec"]["containers"][0]
    del c["resources"]["limits"]["memory"]
    del c["livenessProbe"]
    c["readinessProbe"] = {"tcpSocket": {"port": 7070}}
    c["image"] = "tandem/torch_service:latest"
    c["securityContext"].update(readOnlyRootFilesystem=False, runAsUser=0, capabilities={"add": ["NET_ADMIN"]})
    torch["spec"]["template"]["spec"]["securityContext"]["seccompProfile"] = {"type": "Unconfined"}
    service = next(o for o in objs if o["kind"] == "Service")
    service["spec"]["type"] = "LoadBalancer"
    problems = "\n".join(check.policy_problems([o for o in objs if o["kind"] != "NetworkPolicy"]))
    for expected in ("no memory limit", "no livenessProbe", "readinessProbe is not a gRPC health probe",
                     "not pinned", "root file system not read-only", "runs as uid 0", "capabilities not all dropped",
                     "seccomp profile is not RuntimeDefault", "exposed outside the cluster", "no NetworkPolicy"):
        assert expected in problems


@pytest.mark.parametrize("target", [CPU, GPU], ids=lambda t: t.name)
def test_network_policy_admits_only_the_load_generators_to_the_services(target):
    policies = {o["metadata"]["name"]: o["spec"] for o in objects(target, "NetworkPolicy")}
    assert policies["default-deny-ingress"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    grpc = policies["services-from-load-generators"]
    assert grpc["podSelector"]["matchExpressions"][0]["values"] == ["torch-service", "tf-service"]
    (rule,) = grpc["ingress"]
    assert rule["from"][0]["podSelector"]["matchExpressions"][0]["values"] == ["locust-worker", "compare"]
    assert rule["ports"] == [{"port": "grpc", "protocol": "TCP"}]
    assert all(s["spec"]["type"] == "ClusterIP" for s in objects(target, "Service"))


def test_tfserving_config_is_docker_tfserving():
    for name in ("models.config", "batching.config"):
        text = (K8S_DIR / "models" / "tfserving" / name).read_text()
        assert text == (ROOT / "docker" / "tfserving" / name).read_text(), \
            f"deploy/k8s/models/tfserving/{name} differs: cp docker/tfserving/{name} deploy/k8s/models/tfserving/"


def test_gpu_overlay_requests_gpus_on_gpu_nodes_and_cpu_does_not():
    for name, container in (("torch-service", "torch-service"), ("tf-service", "tfserving")):
        spec = find(GPU, "Deployment", name)["spec"]["template"]["spec"]
        (c,) = [c for c in spec.get("initContainers", []) + spec["containers"] if c["name"] == container]
        assert c["resources"]["limits"]["nvidia.com/gpu"] == "1"
        assert spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
        assert spec["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert "nvidia.com/gpu" not in json.dumps(objects(CPU))


# ---------------------------------------------------------------- agreement with docker-compose.yml
# compose service -> where it runs on Kubernetes: (kind, object, container), one or more.
COMPOSE_TO_K8S = {
    "zoo": [("Job", "tandem-zoo", "zoo")],
    "tfserving-init": [("Job", "tandem-zoo", "tfserving-init"), ("Deployment", "tf-service", "tfserving-init")],
    "tfserving": [("Deployment", "tf-service", "tfserving")],
    "tf_service": [("Deployment", "tf-service", "tf-service")],
    "torch_service": [("Deployment", "torch-service", "torch-service")],
    "locust-master": [("Deployment", "locust-master", "locust-master")],
    "locust-worker": [("Deployment", "locust-worker", "locust-worker")],
    "compare": [("Job", "tandem-compare", "compare")],
}
# Compose host names -> the Kubernetes ones (a Service name cannot hold "_"; TF Serving is tf_service's sidecar).
# The compare Job reaches TF Serving through the tf-service Service's `tfserving` port.
HOSTS = {"tfserving://tfserving:8500": "tfserving://tf-service:8500", "torch_service:": "torch-service:",
         "tf_service:": "tf-service:", "tfserving:8500": "127.0.0.1:8500"}
# What differs on purpose: on Kubernetes the compare Job gets no GPU (a whole one for NVML sampling only).
ENV_ONLY_IN_COMPOSE = {("compare", "NVIDIA_DRIVER_CAPABILITIES")}
VARIANT_OF = {CPU: "cpu+compare", GPU: "gpu+compare"}


def k8s_container(target: Target, kind: str, name: str, container: str) -> tuple[dict, dict[str, str]]:
    """The container and its environment, values from the rendered ConfigMaps filled in."""
    obj = find(target, kind, name)
    spec = check.pod_spec(obj)
    (c,) = [c for c in spec.get("initContainers", []) + spec["containers"] if c["name"] == container]
    maps = {o["metadata"]["name"]: o.get("data", {}) for o in objects(target, "ConfigMap")}
    env = {}
    for e in c.get("env", []):
        ref = e.get("valueFrom", {}).get("configMapKeyRef")
        env[e["name"]] = maps[ref["name"]][ref["key"]] if ref else e["value"]
    return c, env


def settings_of(target: Target) -> dict[str, str]:
    (settings,) = [o for o in objects(target, "ConfigMap") if o["metadata"]["name"].startswith("tandem-settings")]
    return settings["data"]


def expand(argv: list[str] | None, env: dict[str, str]) -> list[str] | None:
    """What the kubelet runs: $(VAR) replaced from the container's environment."""
    if argv is None:
        return None
    return [re.sub(r"\$\(([A-Z_][A-Z0-9_]*)\)", lambda m: env[m.group(1)], a) for a in argv]


def on_k8s(argv: list[str] | None) -> list[str] | None:
    if argv is None:
        return None
    out = []
    for a in argv:
        for compose_host, k8s_host in HOSTS.items():
            a = a.replace(compose_host, k8s_host)
        out.append(a)
    return out


def quantity(value) -> float:
    """Compose's `8G`/`512M`/4.0 and Kubernetes' `8Gi`/`512Mi`/`4`/`500m` as numbers."""
    text = str(value)
    units = {"Gi": 2**30, "Mi": 2**20, "G": 2**30, "M": 2**20, "m": 1e-3}
    for unit, factor in units.items():
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)


@pytest.fixture(scope="module")
def compose():
    from .support import resolved

    return {target: resolved(variant)["services"] for target, variant in VARIANT_OF.items()}


@pytest.mark.parametrize("target", [CPU, GPU], ids=lambda t: t.name)
def test_every_compose_service_runs_with_its_image_command_env_ports_and_limits(compose, target):
    services = compose[target]
    assert set(services) == set(COMPOSE_TO_K8S), "map each compose service to where it runs on Kubernetes"
    for service, places in COMPOSE_TO_K8S.items():
        s = services[service]
        for kind, name, container in places:
            c, env = k8s_container(target, kind, name, container)
            where = f"compose {service} vs {kind}/{name} {container}"
            assert c["image"] == s["image"], where
            assert expand(c.get("command"), env) == s.get("entrypoint"), where
            assert expand(c.get("args"), env) == on_k8s(s.get("command")), where
            for key, value in (s.get("environment") or {}).items():
                if (service, key) not in ENV_ONLY_IN_COMPOSE:
                    assert env.get(key) == value, f"{where}: env {key}"
            limits = s["deploy"]["resources"]["limits"]
            assert quantity(c["resources"]["limits"]["cpu"]) == quantity(limits["cpus"]), where
            assert quantity(c["resources"]["limits"]["memory"]) == quantity(limits["memory"]), where
            compose_ports = {int(p) for p in s.get("expose") or []}
            compose_ports |= {int(str(p).rsplit(":", 1)[-1].split("/")[0]) for p in s.get("ports") or []}
            if kind == "Deployment":
                assert {p["containerPort"] for p in c.get("ports", [])} == compose_ports, where


def test_settings_are_compose_variables_with_compose_defaults():
    text = (ROOT / "docker-compose.yml").read_text() + (ROOT / "docker-compose.gpu.yml").read_text()
    defaults = dict(re.findall(r"\$\{([A-Z_][A-Z0-9_]*):-([^}]*)\}", text))
    for target in (CPU, GPU):
        settings = settings_of(target)
        for key, value in settings.items():
            assert key in defaults, f"setting {key} is not a compose variable"
            assert value == on_k8s([defaults[key]])[0], f"setting {key}: {value} vs compose's {defaults[key]}"


def test_the_default_locust_scenario_exists():
    settings = settings_of(CPU)
    assert (ROOT / "loadtests" / "locustfiles" / f"{settings['LOCUST_SCENARIO']}.py").is_file()


def test_a_service_probe_is_the_grpc_health_of_its_serving_port():
    for name in ("torch-service", "tf-service"):
        c, _ = k8s_container(CPU, "Deployment", name, name)
        grpc_port = next(p["containerPort"] for p in c["ports"] if p["name"] == "grpc")
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert c[probe]["grpc"] == {"port": grpc_port}
