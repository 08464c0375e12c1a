"""One real `python -m client` process: the module entry point works, and the client, the CLI and
the parity suite load without torch or tensorflow (checked on the interpreter's own import log)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from server_core.repository import RepositoryBackend
from server_core.runner import BackgroundServer
from tests.support.echo import EchoLoader

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {"torch", "tensorflow", "keras", "jax"}


def test_python_dash_m_client_parity_without_frameworks():
    with BackgroundServer(RepositoryBackend(EchoLoader(), ["add_sub"])) as a, \
            BackgroundServer(RepositoryBackend(EchoLoader(), ["add_sub"])) as b:
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "client", "parity", "--a", a.address, "--b", b.address,
             "--model", "add_sub", "--samples", "6", "--batch-size", "4", "--json", "-"],
            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    assert doc["passed"] is True and doc["inputs"]["requests"] == 2
    assert [o["name"] for o in doc["outputs"]] == ["OUTPUT0", "OUTPUT1"]
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0]
                for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "numpy" in imported and "grpc" in imported  # the log is really there
    assert not imported & FORBIDDEN, imported & FORBIDDEN
