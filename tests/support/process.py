"""Test-side defaults for server_core.launch: run a Python module of this repository as a child
(cwd and PYTHONPATH at the repository root) that prints `READY host:port`; stopped by the test."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from server_core.launch import LaunchError, ServiceProcess

ROOT = Path(__file__).resolve().parents[2]

__all__ = ["ROOT", "LaunchError", "ServiceProcess", "child", "python_module"]


def _env(env: dict | None) -> dict:
    path = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": f"{ROOT}{os.pathsep}{path}" if path else str(ROOT), **(env or {})}


def child(argv: list[str], *, env: dict | None = None, **kwargs) -> ServiceProcess:
    """Any command printing READY, run from the repository root (not started)."""
    return ServiceProcess(argv, env=_env(env), cwd=ROOT, **kwargs)


def python_module(module: str, *args: str, env: dict | None = None, **kwargs) -> ServiceProcess:
    """`python -m MODULE ARGS...` with this interpreter, from the repository root (not started)."""
    kwargs.setdefault("name", module)
    return child([sys.executable, "-m", module, *args], env=env, **kwargs)
