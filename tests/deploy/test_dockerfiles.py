"""The Dockerfiles: pinned bases, multi-stage, non-root, health checks, installs from the pinned
requirement files only, and every file they copy (and every module their programs import) present
in the build context."""

from __future__ import annotations

import re
import shlex
import sys

import pytest

from deploy.requirements import ROLES, pins_of

from .support import ROOT, dockerfile, dockerfiles, import_closure, in_build_context

# Per image: the requirement files it installs (normally / --no-deps), its programs' entry modules,
# and the modules left out on purpose.
IMAGES = {
    "docker/torch_service.Dockerfile": {
        "requirements": ["torch-service.txt"], "entries": ["torch_service.__main__", "deploy.healthcheck"],
        "exclude": frozenset()},
    "docker/tf_service.Dockerfile": {
        "requirements": ["tf-service.txt", "tf-service-protos.txt"],
        "entries": ["tf_service.__main__", "deploy.healthcheck", "deploy.tfserving_config"],
        # the embedded backend needs the TensorFlow runtime, which this image leaves out by design;
        # the tfserving_config generator needs the zoo (it runs on a developer's machine, not here)
        "exclude": frozenset({"tf_service.embedded", "zoo.specs", "zoo.tf_export"})},
    "docker/loadtests.Dockerfile": {
        "requirements": ["loadtests.txt"],
        "entries": ["loadtests.__main__", "client.__main__", "deploy.healthcheck", "deploy.compare_job",
                    "loadtests.locustfiles.latency", "loadtests.locustfiles.throughput", "loadtests.locustfiles.ramp"],
        "exclude": frozenset()},
    "docker/zoo.Dockerfile": {"requirements": ["zoo.txt"], "entries": ["zoo.__main__"], "exclude": frozenset()},
}
SERVICE_IMAGES = ("docker/torch_service.Dockerfile", "docker/tf_service.Dockerfile")
FROM_ROLE_FILE = re.compile(r"\$torch_pin|\$\(grep -E '\^torch==' \S+\)")  # the torch pin, read from the role's file
PINNED_BASE = re.compile(r"^python:(?P<minor>3\.\d+)\.\d+-slim-(?P<debian>[a-z]+)$")


def test_every_dockerfile_is_known():
    assert dockerfiles() == sorted(IMAGES)


@pytest.mark.parametrize("rel", sorted(IMAGES))
def test_base_images_are_pinned_and_match_the_tested_python(rel):
    df = dockerfile(rel)
    for stage in df.stages:
        if stage.base in df.stage_names():
            continue
        match = PINNED_BASE.match(stage.base)
        assert match, f"{rel}: base {stage.base} is not pinned to a python:X.Y.Z-slim-<debian> tag"
        assert match["minor"] == f"{sys.version_info.major}.{sys.version_info.minor}", \
            f"{rel}: the image's Python differs from the one requirements/dev.txt is resolved and tested with"
    bases = {dockerfile(r).args["PYTHON_IMAGE"] for r in IMAGES}
    assert len(bases) == 1, f"every image uses the same base: {bases}"


@pytest.mark.parametrize("rel", sorted(IMAGES))
def test_multi_stage_non_root_and_nothing_installed_in_the_final_stage(rel):
    df = dockerfile(rel)
    assert len(df.stages) >= 2 and df.stages[0].name == "build"
    final = df.final
    assert (["/opt/venv"], "/opt/venv", {"from": "build"}) in final.copies()
    assert "pip install" not in final.runs() and "pip download" not in final.runs()
    assert final.last("USER").args == "tandem"
    assert "--uid 10001" in final.runs() and "chown tandem:tandem /models" in final.runs()
    users = [i for i in final.instructions if i.keyword == "USER"]
    assert final.instructions.index(users[-1]) > max(
        i for i, inst in enumerate(final.instructions) if inst.keyword in ("RUN", "COPY")), "USER comes last"


@pytest.mark.parametrize("rel", SERVICE_IMAGES)
def test_service_images_check_their_health_through_grpc(rel):
    check = dockerfile(rel).final.last("HEALTHCHECK")
    assert check is not None and '"deploy.healthcheck"' in check.args
    assert "deploy/healthcheck.py" in {s for sources, _, _ in dockerfile(rel).final.copies() for s in sources}


def _pip_installs(text: str) -> list[list[str]]:
    commands = []
    for part in re.split(r"&&|;|\n", text):
        words = shlex.split(part.strip().rstrip("\\"), posix=True) if "pip " in part else []
        if words[:2] in (["pip", "install"], ["pip", "download"]):
            commands.append(words)
    return commands


@pytest.mark.parametrize("rel", sorted(IMAGES))
def test_installs_come_only_from_the_pinned_requirement_files(rel):
    build = dockerfile(rel).stages[0]
    copied = {}
    for sources, dest, _ in build.copies():
        for source in sources:
            copied[f"{dest.rstrip('/')}/{source.rsplit('/', 1)[-1]}" if dest.endswith("/") else dest] = source
    installed = set()
    for words in _pip_installs(build.runs()):
        args = iter(words[2:])
        for word in args:
            if word in ("-r", "--requirement"):
                source = copied[next(args)]
                assert source.startswith("requirements/"), source
                installed.add(source.removeprefix("requirements/"))
            elif word in ("--index-url", "--dest"):
                next(args)
            elif word.startswith("-"):
                continue
            else:  # a wheel the build downloaded, or the torch pin read from the role's file
                assert word.startswith("/tmp/wheels/") or FROM_ROLE_FILE.fullmatch(word), \
                    f"{rel}: `{' '.join(words)}` installs {word!r}, which is not from a pinned requirement file"
    assert installed == set(IMAGES[rel]["requirements"])
    for name in installed:
        assert name.removesuffix(".txt") in ROLES and (ROOT / "requirements" / name).is_file()


def test_torch_image_chooses_cpu_or_cuda_torch_by_build_arg():
    build = dockerfile("docker/torch_service.Dockerfile").stages[0]
    args = {i.args.split("=")[0]: i.args.partition("=")[2] for i in build.all("ARG")}
    assert args["TORCH_VARIANT"] == "cpu" and args["TORCH_CPU_INDEX"] == "https://download.pytorch.org/whl/cpu"
    runs = build.runs()
    assert 'cpu) pip install --no-deps --index-url "$TORCH_CPU_INDEX" "$torch_pin"' in runs
    assert "cuda) ;;" in runs and "TORCH_VARIANT must be cpu or cuda" in runs
    assert "torch.version.cuda" in runs, "the build checks that the torch it installed matches the variant"


def test_tf_image_has_no_tensorflow_runtime():
    build = dockerfile("docker/tf_service.Dockerfile").stages[0]
    runs = build.runs()
    assert "pip install --no-deps /tmp/wheels/tensorflow_serving_api-*.whl" in runs
    assert "tf_protos.py --source /tmp/wheels/tensorflow-*.whl" in runs and "rm -rf /tmp/wheels" in runs
    installed = set(pins_of(ROOT / "requirements" / "tf-service.txt"))
    assert not {"tensorflow", "tensorflow-cpu", "keras", "tensorflow-serving-api"} & installed, installed
    assert dockerfile("docker/tf_service.Dockerfile").final.env()["TF_SERVICE_BACKEND"] == "tfserving"


@pytest.mark.parametrize("rel", sorted(IMAGES))
def test_copied_files_exist_and_are_in_the_build_context(rel):
    for stage in dockerfile(rel).stages:
        for sources, _, flags in stage.copies():
            if "from" in flags:
                continue
            for source in sources:
                path = ROOT / source
                assert path.exists(), f"{rel}: COPY {source}: missing"
                files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()
                                                       and "__pycache__" not in p.parts]
                assert files, f"{rel}: COPY {source}: empty"
                for file in files:
                    assert in_build_context(str(file.relative_to(ROOT))), f"{rel}: .dockerignore leaves out {file}"


def test_dockerignore_keeps_the_clutter_out():
    for rel in (".venv/bin/python", ".git/HEAD", "reports/x/report.html", "tests/deploy/test_compose.py",
                "zoo-out/zoo.json", "client/__pycache__/sync.cpython-311.pyc", "docker-compose.yml", "README.md"):
        assert not in_build_context(rel), rel
    for rel in ("client/sync.py", "requirements/zoo.txt", "docker/zoo-entrypoint.sh", "deploy/healthcheck.py"):
        assert in_build_context(rel), rel


@pytest.mark.parametrize("rel", sorted(IMAGES))
def test_the_image_holds_every_module_its_programs_import(rel):
    image = IMAGES[rel]
    modules, _ = import_closure(image["entries"], image["exclude"])
    copied = [s.rstrip("/") for sources, _, flags in dockerfile(rel).final.copies() if "from" not in flags
              for s in sources]
    for module in sorted(modules):
        path = module.replace(".", "/")
        assert any(path == c.removesuffix(".py").removesuffix("/__init__") or path.startswith(c + "/")
                   or f"{path}/__init__.py" == c or f"{path}.py" == c for c in copied), \
            f"{rel}: {module} is imported but not copied into the image"


@pytest.mark.parametrize("rel", sorted(IMAGES))
def test_entrypoints_name_modules_the_image_holds(rel):
    final = dockerfile(rel).final
    entry = final.last("ENTRYPOINT")
    argv = entry.exec_form() if entry else final.last("CMD").exec_form()
    if argv[:2] == ["python", "-m"]:
        module = argv[2]
    else:
        assert argv == ["sh", "/app/docker/zoo-entrypoint.sh"]
        module = "zoo.__main__"
    modules, _ = import_closure([module])
    assert modules, f"{rel}: {module} does not exist"
