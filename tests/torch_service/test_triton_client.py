"""Any OIP v2 client: Triton's own Python client (tritonclient.grpc) drives torch_service serving
the conformance model set (in its own process: Triton's stubs clash with ours in one process)."""

from __future__ import annotations

import subprocess
import sys

from .conftest import serving
from .models import build_conformance_store
from .service import REPO_ROOT


def test_tritonclient_calls_torch_service(tmp_path):
    store = build_conformance_store(tmp_path)
    with serving(store, tmp_path / "work") as srv:
        probe = subprocess.run([sys.executable, "-m", "tests.support.triton_probe", "call", srv.address],
                               cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0 and probe.stdout.strip() == "OK", probe.stdout + probe.stderr
