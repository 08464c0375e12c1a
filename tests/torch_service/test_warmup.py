"""torch_service warm-up: `warmup.npz` in an archive runs through the model's workers before the
version is READY; a warm-up that does not fit or fails keeps the model UNAVAILABLE with the reason."""

from __future__ import annotations

import asyncio
import logging

import numpy as np
import pytest

from server_core.repository import RepositoryBackend
from torch_service.archive import build_archive
from torch_service.loader import TorchLoader
from torch_service.store import ModelStore

from .models import Identity, save_torchscript, tensors

CONFIG = {"tensors": tensors([("INPUT0", "FP32", (-1, 4))], [("OUTPUT0", "FP32", (-1, 4))])}


def _archive(store, src, name, warmup: dict | None):
    extra = []
    if warmup is not None:
        path = src / f"{name}-warmup" / "warmup.npz"
        path.parent.mkdir(parents=True)
        np.savez(path, **warmup)
        extra.append(path)
    build_archive(store / f"{name}.mar", model_name=name, version="1", config=CONFIG, extra_files=extra,
                  serialized_file=save_torchscript(Identity(), src / f"{name}.pt"))


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("warmup")
    store, src = tmp / "store", tmp / "src"
    src.mkdir()
    ones = np.ones((2, 4), np.float32)
    _archive(store, src, "warm", {"0/INPUT0": ones, "1/INPUT0": ones[:1]})
    _archive(store, src, "cold", None)
    _archive(store, src, "misfit", {"INPUT0": np.ones((2, 5), np.float32)})
    _archive(store, src, "wrongname", {"x": ones})

    async def run():
        backend = RepositoryBackend(TorchLoader(ModelStore(store), tmp / "work"))
        await backend.start()
        try:
            rows = {e.name: e for e in await backend.repository_index(False)}
            return rows
        finally:
            await backend.stop()

    return run


def test_warm_up_runs_before_ready_and_is_logged(index, caplog):
    with caplog.at_level(logging.INFO, logger="tandem.warmup"):
        rows = asyncio.run(index())
    assert rows["warm"].state == "READY" and rows["cold"].state == "READY"
    lines = [r.getMessage() for r in caplog.records if r.name == "tandem.warmup"]
    assert any("model warm version 1 warmed up: 2 request(s) from warmup.npz" in line for line in lines), lines
    assert not any("model cold" in line for line in lines)


def test_a_failing_warm_up_keeps_the_model_out_of_ready_with_the_reason(index):
    rows = asyncio.run(index())
    assert rows["misfit"].state == "UNAVAILABLE"
    assert "warm-up request 1 of 1 from warmup.npz does not fit" in rows["misfit"].reason
    assert "expected FP32 [-1, 4], got FP32 [2, 5]" in rows["misfit"].reason
    assert rows["wrongname"].state == "UNAVAILABLE" and "no input 'x'" in rows["wrongname"].reason
