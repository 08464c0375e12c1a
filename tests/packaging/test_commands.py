"""`pip install .` puts `tandem-torch`, `tandem-tf` and `tandem` on PATH, working from any directory.

The project is built into a wheel from a copy of its sources (the checkout stays clean), the wheel
is installed with pip into a temporary folder, and each installed command runs from another
directory with nothing of the checkout on PYTHONPATH: the third-party dependencies come from this
interpreter's site-packages, Tandem's own modules only from the installed wheel."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
COMMANDS = {"tandem-torch": "torch_service.cli:main", "tandem-tf": "tf_service.cli:main",
            "tandem": "client.cli.tandem:main"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    packages = PROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    for package in {p.rstrip("*") for p in packages}:
        shutil.copytree(ROOT / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp_path_factory.mktemp("wheels")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    build = subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(src)],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = wheels.glob("tandem_inference-*.whl")
    target = tmp_path_factory.mktemp("installed")
    install = subprocess.run([*pip, "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                             capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr[-3000:]
    return wheel, target


def test_the_wheel_declares_the_three_commands(installed):
    wheel, _ = installed
    with zipfile.ZipFile(wheel) as z:
        (name,) = [n for n in z.namelist() if n.endswith(".dist-info/entry_points.txt")]
        entry_points = configparser.ConfigParser()
        entry_points.read_string(z.read(name).decode())
    assert dict(entry_points["console_scripts"]) == COMMANDS


def _run(target: Path, command: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(target)  # the installed wheel only (pip --target is not a site folder)
    return subprocess.run([str(target / "bin" / command), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("command, args, expect", [
    ("tandem-torch", ["--help"], "--model-store"),
    ("tandem-tf", ["--help"], "--model-base-path"),
    ("tandem", ["--help"], "parity"),
    ("tandem", ["loadtests", "--help"], "compare"),
])
def test_installed_commands_work_from_any_directory(installed, tmp_path, command, args, expect):
    _, target = installed
    result = _run(target, command, *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert expect in result.stdout
    assert "--http-port" in result.stdout or command == "tandem"


def test_installed_modules_come_from_the_wheel_not_the_checkout(installed, tmp_path):
    _, target = installed
    probe = "import client, server_core, torch_service; print(client.__file__, server_core.__file__)"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(target)
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert str(ROOT) not in result.stdout and str(target) in result.stdout
