"""deploy/k8s/kserve: Tandem's services as KServe ServingRuntimes on OIP v2 gRPC, an InferenceService
per zoo model and service, consistent with the overlays' containers and with the volume they read."""

from __future__ import annotations

import json
import shutil

import pytest

from deploy.k8s import check
from deploy.k8s.check import K8S_DIR, KSERVE_SCHEMAS, KSERVE_VERSION, Target

if shutil.which("kubectl") is None:
    print("tests/deploy/test_k8s_kserve.py skipped: kubectl is not installed (it renders the kustomizations)")
    pytest.skip("kubectl is not installed: it renders the kustomizations (`kubectl kustomize`)",
                allow_module_level=True)

KSERVE, ZOO_VOLUME, CPU = Target("kserve"), Target("models"), Target("overlays/cpu")
# runtime -> (the overlay's Deployment and container it runs, the model store's folder in tandem-models)
RUNTIMES = {"tandem-torch": ("torch-service", "torch"), "tandem-tf": ("tf-service", "tf")}


def of_kind(target: Target, kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in check.render(target) if o["kind"] == kind}


def test_vendored_schemas_record_their_kserve_version():
    for (api_version, kind), file in KSERVE_SCHEMAS.items():
        schema = json.loads((K8S_DIR / "schemas" / "kserve" / file).read_text())
        assert f"KServe {KSERVE_VERSION}: {api_version} {kind}" in schema["$comment"]
        assert f"github.com/kserve/kserve/blob/{KSERVE_VERSION}/config/crd/full/" in schema["$comment"]


def test_runtimes_speak_grpc_v2_on_a_port_named_h2c_with_grpc_probes():
    runtimes = of_kind(KSERVE, "ServingRuntime")
    assert set(runtimes) == set(RUNTIMES)
    for rt in runtimes.values():
        assert rt["spec"]["protocolVersions"] == ["grpc-v2"]
        (main,) = [c for c in rt["spec"]["containers"] if c["name"] == "kserve-container"]
        (port,) = main["ports"]
        assert port["name"] == "h2c"
        assert main["readinessProbe"]["grpc"] == {"port": port["containerPort"]}


def test_runtime_runs_the_overlay_container_on_the_kserve_model_mount():
    deployments = of_kind(CPU, "Deployment")
    for name, rt in of_kind(KSERVE, "ServingRuntime").items():
        service, folder = RUNTIMES[name]
        spec = deployments[service]["spec"]["template"]["spec"]
        (overlay,) = [c for c in spec["containers"] if c["name"] == service]
        (main,) = [c for c in rt["spec"]["containers"] if c["name"] == "kserve-container"]
        assert main["image"] == overlay["image"]
        expected = ["/mnt/models" if a == f"/models/{folder}" else a for a in overlay["args"]]
        expected[2:2] = ["--models", "{{.Annotations.tandem_model}}"]  # after the store / base path
        assert main["args"] == expected
        assert main["resources"] == overlay["resources"]
        if name == "tandem-tf":
            (tfs,) = [c for c in rt["spec"]["containers"] if c["name"] == "tfserving"]
            (sidecar,) = [c for c in spec["initContainers"] if c["name"] == "tfserving"]
            assert [tfs[k] for k in ("image", "command", "args")] == [sidecar[k] for k in ("image", "command", "args")]


def test_an_inference_service_per_zoo_model_and_service_on_the_models_volume():
    from zoo.specs import MODELS

    isvcs = of_kind(KSERVE, "InferenceService")
    runtimes = of_kind(KSERVE, "ServingRuntime")
    assert set(isvcs) == {f"{m}-{s}" for m in MODELS for s in ("torch", "tf")}
    (claim,) = of_kind(ZOO_VOLUME, "PersistentVolumeClaim")
    config_maps = of_kind(ZOO_VOLUME, "ConfigMap")
    for isvc in isvcs.values():
        model = isvc["spec"]["predictor"]["model"]
        runtime = runtimes[model["runtime"]]
        assert isvc["metadata"]["annotations"]["tandem_model"] in MODELS
        assert model["protocolVersion"] == "grpc-v2"
        assert model["modelFormat"] in [{"name": f["name"], "version": f["version"]}
                                        for f in runtime["spec"]["supportedModelFormats"]]
        assert model["storageUri"] == f"pvc://{claim}/{RUNTIMES[model['runtime']][1]}"
    for rt in runtimes.values():
        for volume in rt["spec"].get("volumes", []):
            if "configMap" in volume:
                assert volume["configMap"]["name"] in config_maps
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] == claim
