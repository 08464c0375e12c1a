"""The compose files as `docker-compose config` resolves them, for every variant: valid, wired in the
right order, hardened, only the needed ports published, and the GPU variant on GPUs."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from deploy.requirements import read_lock

from .support import (
    ROOT,
    VARIANTS,
    active_services,
    compose_env,
    docker_compose,
    dockerfile,
    published_ports,
    resolved,
    run_config,
)

LONG_RUNNING = {"tfserving", "tf_service", "torch_service", "locust-master", "locust-worker"}
ONE_SHOT = {"zoo", "tfserving-init", "compare"}
PUBLISHED = {"torch_service": [7070], "tf_service": [8600], "locust-master": [8089]}
# Who may write the model volume: the zoo build, and the TF Serving batching mirror.
MODEL_WRITERS = {"zoo", "tfserving-init"}
GPU_SERVICES = {"tfserving", "torch_service", "compare"}


def _services(variant: str) -> dict[str, dict]:
    return resolved(variant)["services"]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_docker_compose_config_accepts_the_variant(variant):
    config = resolved(variant)  # runs `docker-compose [-f ...] [--profile ...] config`, asserting it passes
    assert set(config["services"]) >= LONG_RUNNING


def test_docker_compose_config_rejects_a_broken_file(tmp_path):
    """The validation above can fail: a wrong depends_on condition is refused."""
    text = (ROOT / "docker-compose.yml").read_text().replace("service_completed_successfully", "service_finished", 1)
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(text)
    result = subprocess.run([docker_compose(), "--project-directory", str(ROOT), "-f", str(broken), "config", "-q"],
                            capture_output=True, text=True, env=compose_env(), timeout=60, check=False)
    assert result.returncode != 0 and "service_finished" in result.stderr


def test_each_variant_starts_the_services_and_the_profile_adds_the_compare_job():
    expected = LONG_RUNNING | {"zoo", "tfserving-init"}
    assert set(active_services("cpu")) == expected
    assert set(active_services("gpu")) == expected
    assert set(active_services("cpu+compare")) == expected | {"compare"}
    assert set(active_services("gpu+compare")) == expected | {"compare"}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_only_the_ports_a_user_needs_are_published(variant):
    published = {name: published_ports(svc) for name, svc in _services(variant).items() if svc.get("ports")}
    assert {name: [p[2] for p in ports] for name, ports in published.items()} == PUBLISHED
    for name, ports in published.items():
        for host_ip, host_port, container_port in ports:
            assert host_ip == "127.0.0.1", f"{name}: published on the loopback only by default"
            assert host_port == container_port, name


def _one_shot(service: dict) -> bool:
    return str(service.get("restart", "no")) == "no"


def _has_healthcheck(name: str, service: dict) -> bool:
    check = service.get("healthcheck")
    if check is not None:
        return check.get("test") not in (["NONE"], None) and not check.get("disable")
    build = service.get("build")
    return bool(build) and dockerfile(build["dockerfile"]).final.last("HEALTHCHECK") is not None


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_dependencies_wait_for_health_or_completion(variant):
    services = _services(variant)
    expected = {
        "tfserving-init": {"zoo": "service_completed_successfully"},
        "tfserving": {"tfserving-init": "service_completed_successfully"},
        "tf_service": {"tfserving": "service_healthy"},
        "torch_service": {"zoo": "service_completed_successfully"},
        "locust-master": {"torch_service": "service_healthy", "tf_service": "service_healthy"},
        "locust-worker": {"locust-master": "service_healthy"},
        "compare": {"torch_service": "service_healthy", "tf_service": "service_healthy"},
    }
    for name, service in services.items():
        depends = {dep: spec["condition"] for dep, spec in (service.get("depends_on") or {}).items()}
        assert depends == expected.get(name, {}), name
        for dep, condition in depends.items():
            if condition == "service_healthy":
                assert _has_healthcheck(dep, services[dep]), f"{name} waits for {dep} to be healthy: it needs a check"
            else:
                assert _one_shot(services[dep]), f"{name} waits for {dep} to complete: it must be a one-shot"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_restart_policies_and_resource_limits(variant):
    for name, service in _services(variant).items():
        restart = str(service.get("restart"))
        assert restart == ("no" if name in ONE_SHOT else "unless-stopped"), name
        limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
        assert float(limits.get("cpus", 0)) > 0 and re.fullmatch(r"\d+[KMG]", str(limits.get("memory"))), name


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_containers_are_hardened(variant):
    for name, service in _services(variant).items():
        assert service.get("read_only") is True, name
        assert service.get("cap_drop") == ["ALL"], name
        assert "no-new-privileges:true" in service.get("security_opt", []), name
        assert any(str(t).startswith("/tmp") for t in service.get("tmpfs", [])), name
        if "build" in service:  # our images: non-root, by the image's USER or the service's user
            user = service.get("user") or dockerfile(service["build"]["dockerfile"]).final.last("USER").args
            assert user.split(":")[0] not in ("", "root", "0"), name


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_only_the_builders_write_the_model_volume(variant):
    for name, service in _services(variant).items():
        mounts = [v for v in service.get("volumes", []) if v.get("type") == "volume"]
        for mount in mounts:
            assert mount["source"] == "models" and mount["target"] == "/models", name
            if name in MODEL_WRITERS:
                assert not mount.get("read_only"), name
            else:
                assert mount.get("read_only") is True, f"{name} must mount the models read-only"
            # only the zoo's image populates a new volume (and gives it its owner, the image's user)
            assert bool(mount.get("volume", {}).get("nocopy")) == (name != "zoo"), name
    assert "models" in resolved(variant)["volumes"]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_builds_exist_and_each_image_has_one_build(variant):
    builds: dict[str, dict] = {}
    for name, service in _services(variant).items():
        image = service["image"]
        if image.startswith("tandem/"):
            build = service.get("build")
            assert build, f"{name}: {image} is built here, never pulled"
            assert build["context"] == str(ROOT)
            assert (ROOT / build["dockerfile"]).is_file(), build["dockerfile"]
            args = dockerfile(build["dockerfile"])
            for arg in build.get("args", {}):
                declared = set(args.args) | {i.args.split("=")[0] for s in args.stages for i in s.all("ARG")}
                assert arg in declared, f"{name}: build arg {arg} is not declared in {build['dockerfile']}"
            assert builds.setdefault(image, build) == build, f"{image} is built two different ways"
        else:
            assert "build" not in service, name
        for mount in service.get("volumes", []):
            if mount.get("type") == "bind" and mount["target"] != "/reports":
                assert (ROOT / mount["source"]).exists(), f"{name}: {mount['source']} is missing"


def test_images_are_pinned_and_tf_serving_matches_its_api():
    api = read_lock()["tensorflow-serving-api"][1]
    for variant in VARIANTS:
        for name, service in _services(variant).items():
            image = service["image"]
            repo, _, tag = image.rpartition(":")
            assert repo and tag and tag != "latest", f"{name}: {image} is not pinned"
        expected = f"tensorflow/serving:{api}" + ("-gpu" if variant.startswith("gpu") else "")
        assert _services(variant)["tfserving"]["image"] == expected


def test_the_gpu_variant_runs_on_gpus_and_the_cpu_variant_does_not():
    for variant in ("gpu", "gpu+compare"):
        services = _services(variant)
        for name in GPU_SERVICES & set(active_services(variant)):
            devices = services[name]["deploy"]["resources"]["reservations"]["devices"]
            assert any(d["driver"] == "nvidia" and {"gpu", "utility"} <= set(d["capabilities"]) for d in devices), name
        torch = services["torch_service"]
        assert torch["build"]["args"]["TORCH_VARIANT"] == "cuda" and torch["image"].endswith("-cuda")
        assert torch["environment"]["TORCH_SERVICE_DEFAULT_DEVICE"] == "gpu"
        assert any(c.startswith("--per_process_gpu_memory_fraction=") for c in services["tfserving"]["command"])
    for variant in ("cpu", "cpu+compare"):
        services = _services(variant)
        for name, service in services.items():
            assert "reservations" not in service.get("deploy", {}).get("resources", {}), name
        assert services["torch_service"]["build"]["args"]["TORCH_VARIANT"] == "cpu"
        assert services["torch_service"]["image"].endswith("-cpu")
    assert _services("gpu+compare")["compare"]["environment"]["NVIDIA_DRIVER_CAPABILITIES"] == "compute,utility"


def test_locust_workers_can_scale_and_compare_writes_to_reports():
    for variant in VARIANTS:
        worker = _services(variant)["locust-worker"]
        assert "container_name" not in worker and not worker.get("ports"), "--scale needs no fixed name or port"
    compare = _services("cpu+compare")["compare"]
    binds = [m for m in compare["volumes"] if m["type"] == "bind"]
    assert binds == [{"type": "bind", "source": str(ROOT / "reports"), "target": "/reports"}]
    command = compare["command"]
    assert command[command.index("--out") + 1] == "/reports"


def test_defaults_can_be_overridden_from_the_environment():
    result = run_config(*VARIANTS["cpu+compare"], env=compose_env(
        TORCH_SERVICE_HOST_PORT="17070", TANDEM_BIND="0.0.0.0", TANDEM_SCENARIO="latency", TANDEM_UID="1234"))
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert published_ports(services["torch_service"]) == [("0.0.0.0", 17070, 7070)]
    assert "latency" in services["compare"]["command"] and services["compare"]["user"].startswith("1234:")
