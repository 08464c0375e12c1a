"""Triton's own HTTP client (tritonclient.http, requirements/compat.txt) works unchanged over REST."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_tritonclient_http_drives_every_route_unchanged(server):
    url = f"127.0.0.1:{server.server.http_port}"
    result = subprocess.run([sys.executable, "-m", "tests.rest.triton_http_probe", url], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "OK", result.stderr[-3000:]
