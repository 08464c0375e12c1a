"""A few lines of stdlib HTTP for the REST tests (what curl would send)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request


def send(url: str, body: bytes | dict | None = None, *, method: str | None = None, headers=None):
    """(status, headers, body bytes); errors are answers too."""
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def error_of(answer) -> str:
    status, headers, body = answer
    assert headers.get("Content-Type", "").startswith("application/json"), headers
    return json.loads(body)["error"]
