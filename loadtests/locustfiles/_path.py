"""Lets `locust -f loadtests/locustfiles/<scenario>.py` import Tandem from a source checkout.

Locust puts the locustfile's own folder on sys.path, not the repository root; this adds the root
when `loadtests` is not importable otherwise (e.g. not installed). Imported by the locustfiles only.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def ensure_repository_on_path() -> None:
    if importlib.util.find_spec("loadtests") is None:
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
