"""Another project's OIP v2 client (Triton's, built from its own copy of the proto) calls our server
unchanged; and importing our client needs neither torch nor tensorflow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from server_core.repository import RepositoryBackend
from server_core.runner import BackgroundServer
from tests.support.echo import EchoLoader

ROOT = Path(__file__).resolve().parents[2]


def test_triton_client_drives_every_rpc_unchanged():
    with BackgroundServer(RepositoryBackend(EchoLoader())) as srv:
        result = subprocess.run([sys.executable, "-m", "tests.support.triton_probe", "call", srv.address],
                                cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "OK", result.stderr[-3000:]


def test_importing_the_client_imports_no_framework():
    code = ("import sys, client\n"
            "bad = [m for m in ('torch', 'tensorflow', 'server_core') if m in sys.modules]\n"
            "assert not bad, bad\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
