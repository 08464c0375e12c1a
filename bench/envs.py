"""Environments the benchmark makes for itself, on demand, so that the project's own dependencies
stay as they are: KServe's model server in its own virtual environment, py-spy in its own folder.
Both live under .venv/ (ignored by git, removed by `make clean`). A setup that fails (no network)
returns the reason, which the table prints instead of a number."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from .harness import REPO_ROOT, REPORTS

KSERVE_VENV = REPO_ROOT / ".venv" / "bench-kserve"
# torch pinned to the project's version: unpinned, pip would pick the multi-GB CUDA build
KSERVE_REQUIREMENTS = ("kserve==0.21.0", "torch==2.13.0")
TOOLS = REPO_ROOT / ".venv" / "bench-tools"
PY_SPY = "py-spy==0.4.3"


def _install(what: str, cmds: list[list[str]], log: Path) -> str:
    """Run `cmds` in order (output to `log`); "" on success, else the reason."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        for cmd in cmds:
            try:
                subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=True, timeout=1800)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
                lines = [ln for ln in log.read_text().splitlines() if ln.strip() and "is ignored" not in ln]
                last = lines[-1].strip() if lines else str(exc)
                return f"{what} could not be installed ({last[:160]}; see {log.relative_to(REPO_ROOT)})"
    return ""


def kserve_python() -> tuple[Path | None, str]:
    """(the KServe environment's python, "") once it exists, else (None, why not)."""
    python = KSERVE_VENV / "bin" / "python"
    stamp = KSERVE_VENV / ".bench-requirements"
    wanted = "\n".join(KSERVE_REQUIREMENTS)
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python, ""
    print(f"setting up {KSERVE_VENV.relative_to(REPO_ROOT)} ({', '.join(KSERVE_REQUIREMENTS)}): a few minutes, once",
          file=sys.stderr, flush=True)
    shutil.rmtree(KSERVE_VENV, ignore_errors=True)
    why = _install("KServe", [[sys.executable, "-m", "venv", str(KSERVE_VENV)],
                              [str(python), "-m", "pip", "install", "--quiet", *KSERVE_REQUIREMENTS]],
                   REPORTS / "kserve-install.log")
    if why:
        return None, why
    stamp.write_text(wanted)
    return python, ""


def py_spy() -> tuple[Path | None, str]:
    """(py-spy's binary, "") — on PATH, or installed into .venv/bench-tools — else (None, why not)."""
    found = shutil.which("py-spy")
    if found:
        return Path(found), ""
    binary = TOOLS / "bin" / "py-spy"
    if not binary.exists():
        why = _install("py-spy", [[sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                                   str(TOOLS), PY_SPY]], REPORTS / "py-spy-install.log")
        if why or not binary.exists():
            return None, why or f"{PY_SPY} installed no binary"
    return binary, ""
