"""deploy/k8s/README.md says what the manifests do: its commands name targets the tests render and
objects that exist, its example overlay renders, and the bad inputs it documents behave so."""

from __future__ import annotations

import json
import os
import re
import shutil

import pytest
import yaml

from deploy import compare_job
from deploy.k8s import check
from deploy.k8s.check import K8S_DIR, KUBERNETES_VERSIONS, TARGETS, Target

if shutil.which("kubectl") is None:
    print("tests/deploy/test_k8s_docs.py skipped: kubectl is not installed (it renders the kustomizations)")
    pytest.skip("kubectl is not installed: it renders the kustomizations (`kubectl kustomize`)",
                allow_module_level=True)

README = (K8S_DIR / "README.md").read_text(encoding="utf-8")
ROOT_README = (K8S_DIR.parent.parent / "README.md").read_text(encoding="utf-8")
CPU = Target("overlays/cpu")


def code_blocks(language: str, text: str = README) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def root_commands() -> list[str]:
    """The top-level README's cluster commands: its `sh` block and the table's `kubectl ...` spans."""
    section = ROOT_README.split("## Kubernetes", 1)[1].split("\n## ", 1)[0]
    lines = [line.strip() for block in code_blocks("sh", section) for line in block.splitlines()]
    spans = re.findall(r"`(kubectl (?:-n tandem )?(?:apply|delete|wait|logs|port-forward|scale)[^`]*)`", section)
    return [c for c in lines + spans if c.startswith("kubectl")]


def own_commands() -> list[str]:
    return [line.strip() for block in code_blocks("sh") for line in block.splitlines() if line.startswith("kubectl")]


def commands() -> list[str]:
    return own_commands() + root_commands()


def test_the_top_level_readme_has_the_cluster_commands():
    cmds = root_commands()
    assert "kubectl apply -k deploy/k8s/overlays/cpu" in cmds and "kubectl delete -k deploy/k8s/overlays/cpu" in cmds
    missing = set(cmds) - set(own_commands())
    assert not missing, f"top-level README commands deploy/k8s/README.md lacks: {missing}"


def test_readme_applies_and_deletes_only_rendered_targets_and_names_every_overlay():
    rendered = {f"deploy/k8s/{t.path}" for t in TARGETS}
    used = set()
    for cmd in commands():
        m = re.search(r"kubectl (?:apply|delete) -k (\S+)", cmd)
        if m:
            assert m.group(1) in rendered, f"README: `{cmd}` names a folder the tests do not render"
            used.add(m.group(1))
    assert {"deploy/k8s/overlays/cpu", "deploy/k8s/overlays/gpu", "deploy/k8s/kserve", "deploy/k8s/models"} <= used
    for component in (K8S_DIR / "components").iterdir():
        assert f"components/{component.name}" in README
        assert any(component.name in "+".join(t.components) for t in TARGETS), f"{component.name} is never rendered"


def test_readme_commands_name_objects_that_exist():
    objs = [o for t in (CPU, Target("models")) for o in check.render(t)]
    names = {(o["kind"].lower(), o["metadata"]["name"]) for o in objs}
    labels = {f"{k}={v}" for o in objs if check.pod_spec(o) is not None
              for k, v in o["spec"]["template"]["metadata"]["labels"].items()}
    kinds = {"deployment": "deployment", "job": "job", "service": "service", "pod": "pod"}
    checked = 0
    for cmd in commands():
        if "-n tandem" in cmd:
            for kind, name in re.findall(r"\b(deployment|job|service)[/ ](?!-)([a-z0-9-]+)", cmd):
                assert (kinds[kind], name) in names, f"README: `{cmd}`: no {kind} {name} is rendered"
                checked += 1
            for label in re.findall(r"-l (\S+)", cmd):
                assert label in labels, f"README: `{cmd}`: no pod has the label {label}"
    assert checked >= 8


def test_readme_example_overlay_renders_with_its_settings(tmp_path):
    (example,) = code_blocks("yaml")
    doc = yaml.safe_load(example)
    home = K8S_DIR / "overlays" / "mine"  # where the README tells the user to put it
    for key in ("resources", "components"):
        doc[key] = [os.path.relpath(os.path.normpath(home / p), tmp_path) for p in doc[key]]
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    objs = check.kustomize(tmp_path)
    assert [p for o in objs for p in check.validation_errors(o, KUBERNETES_VERSIONS[-1])] == []
    assert check.policy_problems(objs) == []
    (settings,) = [o["data"] for o in objs
                   if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("tandem-settings")]
    assert settings["TANDEM_MODELS"] == "digits-mlp,resnet18" and settings["TANDEM_DURATION"] == "2m"
    assert settings["TANDEM_WARMUP"] == "5s"  # merged, not replaced
    worker = next(o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == "locust-worker")
    assert worker["spec"]["replicas"] == 4
    assert "registry.example.com/tandem/torch_service:0.1.0-cpu" in json.dumps(objs)
    hpas = {o["metadata"]["name"] for o in objs if o["kind"] == "HorizontalPodAutoscaler"}
    assert hpas == {"torch-service", "tf-service"}


def compare_argv(objs: list[dict]) -> list[str]:
    """The compare Job's command line as the kubelet runs it ($(VAR) from the settings)."""
    job = next(o for o in objs if o["kind"] == "Job" and o["metadata"]["name"] == "tandem-compare")
    (c,) = job["spec"]["template"]["spec"]["containers"]
    maps = {o["metadata"]["name"]: o["data"] for o in objs if o["kind"] == "ConfigMap"}
    env = {e["name"]: maps[e["valueFrom"]["configMapKeyRef"]["name"]][e["valueFrom"]["configMapKeyRef"]["key"]]
           for e in c["env"]}
    assert c["command"] == ["python", "-m", "deploy.compare_job"]
    return [re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], a) for a in c["args"]]


def test_a_model_the_zoo_does_not_build_fails_the_compare_job_with_a_clear_message(tmp_path, capsys):
    from zoo.specs import MODELS

    objs = check.render(CPU, extra="configMapGenerator:\n  - name: tandem-settings\n    behavior: merge\n"
                                   "    literals: [\"TANDEM_MODELS=digits-mlp,no-such-model\"]\n")
    argv = compare_argv(objs)
    assert argv[argv.index("--models") + 1] == "digits-mlp,no-such-model"
    zoo, out = tmp_path / "models", tmp_path / "reports"
    zoo.mkdir()
    (zoo / "zoo.json").write_text(json.dumps({"models": {m: {} for m in MODELS}}), encoding="utf-8")
    argv = [str(zoo) if a == "/models" else str(out) if a == "/reports" else a for a in argv]
    assert compare_job.main(argv) == 2
    err = capsys.readouterr().err
    assert "no-such-model" in err and all(m in err for m in MODELS), err
    assert not any(out.iterdir()), "nothing ran"


def test_replicas_zero_and_the_gpu_overlay_are_valid_objects():
    """Both are accepted as Kubernetes accepts them; the README says what then happens (Pending pods,
    no endpoints, the compare Job's wait giving up)."""
    objs = check.render(CPU, extra="replicas:\n  - {name: torch-service, count: 0}\n")
    torch = next(o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == "torch-service")
    assert torch["spec"]["replicas"] == 0
    assert check.validation_errors(torch, KUBERNETES_VERSIONS[0]) == []
    for documented in ("Insufficient nvidia.com/gpu", "replicas: 0", "exit 2", "gives up after 30 minutes"):
        assert documented in README
    job = next(o for o in objs if o["kind"] == "Job" and o["metadata"]["name"] == "tandem-compare")
    wait = job["spec"]["template"]["spec"]["initContainers"][0]["command"][-1]
    assert "seq 180" in wait and "sleep 10" in wait and "exit 1" in wait  # 180 x 10 s = the 30 minutes
