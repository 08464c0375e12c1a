"""Packaging: the client installs with grpcio, protobuf and numpy only; each service with only its
own framework; the development pins cover every extra; the test command is what CI runs."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower()


def _extra(name: str, seen=()) -> set[str]:
    """Every distribution an extra pulls in, following `tandem-inference[...]` self-references."""
    out = {_name(r) for r in PROJECT["dependencies"]}
    for requirement in PROJECT["optional-dependencies"][name]:
        if _name(requirement) == PROJECT["name"]:
            for inner in re.search(r"\[(.*)\]", requirement).group(1).split(","):
                if inner not in seen:
                    out |= _extra(inner.strip(), (*seen, name))
        else:
            out.add(_name(requirement))
    return out


def test_client_needs_only_grpcio_protobuf_numpy():
    assert {_name(r) for r in PROJECT["dependencies"]} == {"grpcio", "protobuf", "numpy"}


def test_each_service_installs_only_its_own_framework():
    torch_deps, tf_deps = _extra("torch"), _extra("tf")
    assert "torch" in torch_deps and not {"tensorflow", "tensorflow-serving-api"} & torch_deps
    assert {"tensorflow", "tensorflow-serving-api"} <= tf_deps and "torch" not in tf_deps


def test_dev_pins_cover_every_extra_with_the_checked_versions():
    pins = {}
    for line in (ROOT / "requirements" / "dev.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.lower().replace("_", "-")] = version
    assert _extra("dev") <= set(pins), _extra("dev") - set(pins)
    assert pins["torch"] == "2.13.0" and pins["tensorflow"] == "2.21.0"
    assert pins["tensorflow-serving-api"] == "2.21.0"
    assert pins["grpcio"].startswith("1.85.") and pins["grpcio-tools"].startswith("1.85.")
    assert pins["protobuf"].startswith("7.") and pins["locust"].startswith("2.47.")


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "exec make test" in ci
    assert "| set everything up and run the tests | `make test` |" in (ROOT / "README.md").read_text()
