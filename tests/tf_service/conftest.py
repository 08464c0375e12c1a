"""Shared fixtures: SavedModels built once per session; in-process servers always stopped."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import pytest

from server_core.runner import BackgroundServer
from server_core.settings import ServerSettings

from . import models

SMALL = ("add_sub", "slow", "identity_fp32", "identity_bytes")


@pytest.fixture(scope="session")
def small_store(tmp_path_factory) -> Path:
    """A few conformance models plus `checked` (a graph assertion), read-only for tests."""
    root = models.copy_store(tmp_path_factory.mktemp("small") / "models", SMALL)
    models.build_checked(root)
    return root


@pytest.fixture
def store_copy(small_store, tmp_path) -> Path:
    """A private, writable copy of the small store."""
    dest = tmp_path / "models"
    shutil.copytree(small_store, dest)
    return dest


@contextlib.contextmanager
def serving(backend, token: str | None = None):
    with BackgroundServer(backend, ServerSettings(token=token)) as srv:
        yield srv
