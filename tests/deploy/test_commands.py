"""Every command line the compose variants give a container, parsed by the real parser of the program
it runs, in the environment the container has (its image's ENV plus the service's environment);
and the addresses, ports and paths the commands name agree with each other."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest

from .support import ROOT, VARIANTS, active_services, dockerfile, published_ports, resolved

EXPECTED_PROGRAMS = {
    "zoo": "zoo", "tfserving-init": "deploy.tfserving_config", "tfserving": "tensorflow_model_server",
    "tf_service": "tf_service", "torch_service": "torch_service", "locust-master": "locust",
    "locust-worker": "locust", "compare": "deploy.compare_job",
}


# ---------------------------------------------------------------- what a container runs
def image_env(service: dict) -> dict[str, str]:
    env = dockerfile(service["build"]["dockerfile"]).final.env() if "build" in service else {}
    env.update({k: str(v) for k, v in (service.get("environment") or {}).items()})
    return env


def container_argv(service: dict) -> list[str]:
    """The process a container starts: entrypoint + command, each from compose or else the image."""
    stage = dockerfile(service["build"]["dockerfile"]).final if "build" in service else None
    entrypoint = service.get("entrypoint")
    if entrypoint is None and stage is not None and stage.last("ENTRYPOINT"):
        entrypoint = stage.last("ENTRYPOINT").exec_form()
    command = service.get("command")
    if command is None and stage is not None and stage.last("CMD"):
        command = stage.last("CMD").exec_form()
    assert isinstance(entrypoint or [], list) and isinstance(command or [], list), "use the exec (list) form"
    return [*(entrypoint or []), *(command or [])]


def program(argv: list[str]) -> tuple[str, list[str]]:
    """(program, its arguments): `python -m M ...` -> M; the zoo entrypoint script -> zoo."""
    if argv[:2] == ["python", "-m"]:
        return argv[2], argv[3:]
    if argv[:2] == ["sh", "/app/docker/zoo-entrypoint.sh"]:
        script = (ROOT / "docker" / "zoo-entrypoint.sh").read_text()
        assert 'exec python -m zoo "$@"' in script
        return "zoo", argv[2:]
    return argv[0], argv[1:]


@contextlib.contextmanager
def environment(env: dict[str, str]):
    """Exactly the container's variables of the services' prefixes (defaults read them at parse time)."""
    prefixes = ("TORCH_SERVICE_", "TF_SERVICE_", "TANDEM_", "ZOO_")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    with mock.patch.dict(os.environ, {**clean, **env}, clear=True):
        yield


def parse(parser: argparse.ArgumentParser, args: list[str], what: str) -> argparse.Namespace:
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            namespace = parser.parse_args(args)
    except SystemExit:
        pytest.fail(f"{what}: {parser.prog} refuses {args}: {err.getvalue().strip()}")
    _check_choices(parser, namespace, what)
    return namespace


def _check_choices(parser: argparse.ArgumentParser, namespace: argparse.Namespace, what: str) -> None:
    """argparse does not check defaults (here: values from the environment) against `choices`."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            chosen = getattr(namespace, action.dest, None)
            if chosen in action.choices:
                _check_choices(action.choices[chosen], namespace, what)
        elif action.choices is not None and getattr(namespace, action.dest, None) is not None:
            assert getattr(namespace, action.dest) in action.choices, \
                f"{what}: {action.dest}={getattr(namespace, action.dest)!r} is not one of {list(action.choices)}"


def variants_of(name: str) -> list[str]:
    """The variants that run the service (known statically, so collecting needs no docker-compose)."""
    return [v for v, (_, profiles) in sorted(VARIANTS.items()) if name != "compare" or "compare" in profiles]


def service_of(variant: str, name: str) -> tuple[str, dict]:
    return f"{variant}:{name}", active_services(variant)[name]


def _services(variant: str = "cpu+compare") -> dict[str, dict]:
    return resolved(variant)["services"]


def test_a_command_the_parser_refuses_fails_the_check():
    """`parse` fails on what the real parser refuses, and on environment values outside `choices`."""
    from torch_service.cli import serve_parser

    with pytest.raises(pytest.fail.Exception, match="--no-such-flag"):
        parse(serve_parser(), ["--model-store", "/models/torch", "--no-such-flag"], "bad flag")
    with environment({"TORCH_SERVICE_DEFAULT_DEVICE": "tpu"}), pytest.raises(AssertionError, match="tpu"):
        parse(serve_parser(), ["--model-store", "/models/torch"], "bad environment")


def test_every_service_runs_the_expected_program():
    for variant in VARIANTS:
        for name, service in active_services(variant).items():
            assert program(container_argv(service))[0] == EXPECTED_PROGRAMS[name], f"{variant}:{name}"


# ---------------------------------------------------------------- the services
@pytest.mark.parametrize("variant", variants_of("torch_service"))
def test_torch_service_command(variant):
    label, service = service_of(variant, "torch_service")
    from server_core.settings import settings_from_args
    from torch_service.cli import serve_parser

    _, args = program(container_argv(service))
    with environment(image_env(service)):
        ns = parse(serve_parser(), args, label)
        settings = settings_from_args(ns)
    assert (settings.host, settings.port, settings.metrics_port) == ("0.0.0.0", 7070, 8082)
    assert not settings.management, "a published port does not offer RepositoryModelLoad/Unload"
    assert str(ns.model_store) == "/models/torch"
    assert [str(settings.metrics_port)] == service["expose"]
    gpu = label.startswith("gpu")
    assert ns.default_device == ("gpu" if gpu else "cpu")


@pytest.mark.parametrize("variant", variants_of("tf_service"))
def test_tf_service_command(variant):
    label, service = service_of(variant, "tf_service")
    from server_core.settings import settings_from_args
    from tf_service.cli import build_parser, choose_backend

    _, args = program(container_argv(service))
    with environment(image_env(service)):
        ns = parse(build_parser(), args, label)
        settings = settings_from_args(ns)
        backend, _ = choose_backend(ns)
    assert backend == "tfserving" and (settings.host, settings.port, settings.metrics_port) == ("0.0.0.0", 8600, 8602)
    assert not settings.management, "a published port does not offer RepositoryModelLoad/Unload"
    assert [str(settings.metrics_port)] == service["expose"]
    assert str(ns.model_base_path) == "/models/tf"
    host, _, port = ns.tfserving_address.rpartition(":")
    tfserving = _services()["tfserving"]
    assert host == "tfserving" and f"--port={port}" in tfserving["command"] and [port] == tfserving["expose"]
    mirror = _arg(_services()["tfserving-init"]["command"], "--mirror")
    assert ns.tfserving_model_base_path == mirror, "tf_service must name models as TF Serving sees them"


def _arg(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


@pytest.mark.parametrize("variant", variants_of("zoo"))
def test_zoo_command(variant):
    label, service = service_of(variant, "zoo")
    from zoo.cli import _parser as zoo_parser  # the zoo's CLI has no public parser builder

    _, args = program(container_argv(service))
    with environment(image_env(service)):
        ns = parse(zoo_parser(), args, label)
    assert ns.command == "build" and ns.out == image_env(service)["ZOO_OUT"] == "/models"


@pytest.mark.parametrize("variant", variants_of("tfserving-init"))
def test_tfserving_init_command(variant):
    label, service = service_of(variant, "tfserving-init")
    from deploy.tfserving_config import build_parser

    _, args = program(container_argv(service))
    ns = parse(build_parser(), args, label)
    assert ns.command == "mirror" and str(ns.model_base_path) == "/models/tf"
    binds = {m["target"]: m["source"] for m in service["volumes"] if m["type"] == "bind"}
    assert binds[str(ns.config_dir)] == str(ROOT / "docker" / "tfserving")
    for flag in ("--model_config_file=", "--batching_parameters_file="):
        path = next(a for a in _services()["tfserving"]["command"] if a.startswith(flag)).split("=", 1)[1]
        assert Path(path).parent == ns.config_dir and (ROOT / "docker" / "tfserving" / Path(path).name).is_file()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_tfserving_gets_the_flags_of_the_managed_backend(variant, tmp_path):
    """The compose TF Serving runs as tf_service's managed backend runs its own (paths and port aside)."""
    from tf_service.managed import ManagedBackend

    backend = ManagedBackend("tensorflow_model_server", tmp_path, work_dir=tmp_path / "work", port=8500)
    backend.files = {"batching_parameters_file": Path("/etc/tfserving/batching.config")}
    managed = backend.argv(Path("/etc/tfserving/models.config"))
    service = resolved(variant)["services"]["tfserving"]
    compose = container_argv(service)
    assert compose[0] == Path(managed[0]).name == "tensorflow_model_server"
    extra = {"--per_process_gpu_memory_fraction"} if variant.startswith("gpu") else set()
    assert {a.split("=")[0] for a in compose[1:]} == {a.split("=")[0] for a in managed[1:]} | extra
    assert sorted(a for a in compose[1:] if a.split("=")[0] not in extra) == sorted(managed[1:])


# ---------------------------------------------------------------- health checks
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_health_checks_probe_the_port_the_service_listens_on(variant):
    from deploy.healthcheck import build_parser, target_of

    ports = {"torch_service": "7070", "tf_service": "8600", "locust-master": "8089", "tfserving": "8500"}
    for name, service in active_services(variant).items():
        check = service.get("healthcheck", {}).get("test")
        if name in ("tfserving",):
            assert check[:3] == ["CMD", "bash", "-c"] and check[3].endswith(f"/dev/tcp/127.0.0.1/{ports[name]}")
            continue
        if check in (None, ["NONE"]):
            assert name not in ports, f"{name} needs a health check"
            continue
        prog, args = program(check[1:])
        assert check[0] == "CMD" and prog == "deploy.healthcheck"
        with environment(image_env(service)):
            target = target_of(parse(build_parser(), args, f"{variant}:{name} healthcheck"))
        assert target.rsplit(":", 1)[1].split("/")[0] == ports[name], f"{name}: {target}"


def test_image_health_checks_parse():
    from deploy.healthcheck import build_parser, target_of

    for rel, port in (("docker/torch_service.Dockerfile", "7070"), ("docker/tf_service.Dockerfile", "8600")):
        stage = dockerfile(rel).final
        flags, rest = stage.last("HEALTHCHECK").flags_and_rest()
        cmd = json.loads(rest.removeprefix("CMD").strip())
        prog, args = program(cmd)
        assert prog == "deploy.healthcheck"
        with environment(stage.env()):
            assert target_of(parse(build_parser(), args, rel)) == f"grpc://127.0.0.1:{port}"
        assert {"interval", "timeout", "start-period", "retries"} <= set(flags)


# ---------------------------------------------------------------- Locust
def test_locust_commands_parse_with_locusts_parser(tmp_path):
    cases = [(f"{v}:{n}", container_argv(s)) for v in sorted(VARIANTS) for n, s in active_services(v).items()
             if n.startswith("locust-")]
    # and one the parser must refuse, to show the check can fail
    refused = ["-f", "loadtests/locustfiles/throughput.py", "--master", "--no-such-flag"]
    argvs = [argv[1:] for _, argv in cases] + [refused]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    result = subprocess.run([sys.executable, str(Path(__file__).with_name("locust_parse.py")), json.dumps(argvs)],
                            capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
                            env={**env, "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    *parsed, bad = json.loads(result.stdout)
    assert not bad["ok"] and "--no-such-flag" in bad["error"]
    master_port = web_port = None
    for (label, argv), outcome in zip(cases, parsed, strict=True):
        assert argv[0] == "locust" and outcome["ok"], f"{label}: {outcome.get('error')}"
        options = outcome["options"]
        assert (ROOT / options["locustfile"]).is_file()
        if options["master"]:
            assert "tandem" in outcome, f"{label}: {outcome.get('tandem_error')}"
            host, port = options["host"].removeprefix("grpc://").split(":")
            assert (host, port) in {("torch_service", "7070"), ("tf_service", "8600")}
            master_port, web_port = options["master_bind_port"], options["web_port"]
    for (label, _argv), outcome in zip(cases, parsed, strict=True):
        if outcome["options"]["worker"]:
            assert outcome["options"]["master_host"] == "locust-master"
            assert outcome["options"]["master_port"] == master_port, label
    assert web_port == 8089 and str(master_port) in _services()["locust-master"]["expose"]


# ---------------------------------------------------------------- the compare job
@pytest.mark.parametrize("variant", variants_of("compare"))
def test_compare_job_and_every_step_it_runs(variant, tmp_path):
    label, service = service_of(variant, "compare")
    from client.cli import build_parser as client_parser
    from deploy import compare_job
    from loadtests.cli import config_from_args
    from loadtests.cli import parser as loadtests_parser
    from zoo.specs import MODELS

    zoo = tmp_path / "models"
    (zoo / "parity").mkdir(parents=True)
    (zoo / "zoo.json").write_text(json.dumps({"models": {m: {} for m in MODELS}}))
    for model in MODELS:
        (zoo / "parity" / f"{model}.npz").write_bytes(b"")
    _, args = program(container_argv(service))
    with environment(image_env(service)):
        ns = compare_job.parse_args(args)
        assert ns.zoo == Path("/models") and ns.out == Path("/reports")
        ns.zoo, ns.out = zoo, tmp_path / "reports"
        steps = compare_job.plan(ns, compare_job.select_models(ns.models, ns.zoo))
        assert [s.what for s in steps] == [f"{k} {m}" for m in MODELS for k in ("parity", "behaviour parity", "load")
                                           ] + ["merged report"]
        for step in steps:
            parser = client_parser() if step.module == "client" else loadtests_parser()
            parsed = parse(parser, list(step.argv), f"{label}: {step.what}")
            if parsed.command == "compare":
                config = config_from_args(parsed)
                config.parity = config.behaviour = None  # written by the parity steps at run time
                config.validate()
    services = _services()
    for flag, target in (("--torch", "torch_service"), ("--tf", "tf_service")):
        host, port = getattr(ns, flag[2:]).split(":")
        assert host == target and [p[2] for p in published_ports(services[target])] == [int(port)]


def test_compare_job_refuses_a_model_the_zoo_did_not_build(tmp_path):
    from deploy import compare_job

    (tmp_path / "zoo.json").write_text(json.dumps({"models": {"digits-mlp": {}}}))
    with pytest.raises(ValueError, match="nope"):
        compare_job.select_models("digits-mlp,nope", tmp_path)
