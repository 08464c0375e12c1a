"""Management through RepositoryIndex / Load / Unload: from the store only, reloads pick up new
versions, unloading drains in-flight requests and removes the extraction folders; guarded by the
token and switchable off."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from client import AsyncInferenceClient, InferenceClient, errors
from torch_service.archive import build_archive

from . import models
from .conftest import mlp_config

ONE = np.ones((1, 8), np.float32)


def test_unload_load_and_reload_with_a_new_version(tmp_path, artifacts, serve):
    store = tmp_path / "store"
    build_archive(store / "mlp" / "1.mar", model_name="mlp", version="1", serialized_file=artifacts.mlp_script,
                  config=mlp_config())
    build_archive(store / "other.mar", model_name="other", version="1", serialized_file=artifacts.mlp_script,
                  config=mlp_config())
    _, c = serve(store)
    work = tmp_path / "work" / "mlp"
    assert len(list(work.iterdir())) == 1  # version 1 extracted into a folder of its own
    c.unload_model("mlp")
    assert not list(work.iterdir()), "unloading left the extraction folder behind"
    assert [(e.state, e.reason) for e in c.repository_index() if e.name == "mlp"] == [("UNAVAILABLE", "unloaded")]
    with pytest.raises(errors.UnavailableError, match="mlp"):
        c.infer("mlp", {"x": ONE})
    assert c.infer("other", {"x": ONE})["y"].shape == (1, 3)
    c.load_model("mlp")
    assert c.model_metadata("mlp").versions == ("1",)
    build_archive(store / "mlp" / "2.mar", model_name="mlp", version="2", serialized_file=artifacts.mlp_export,
                  config=mlp_config())
    c.load_model("mlp")  # a loaded model reloads: the store now holds version 2 as well
    assert c.model_metadata("mlp").versions == ("1", "2")
    assert c.infer("mlp", {"x": ONE}, version="2")["y"].shape == (1, 3)
    assert len(list(work.iterdir())) == 2, "the replaced version's folder must be gone"


def test_only_names_in_the_store_can_be_loaded(tmp_path, artifacts, serve):
    store = tmp_path / "store"
    build_archive(store / "mlp.mar", model_name="mlp", version="1", serialized_file=artifacts.mlp_script,
                  config=mlp_config())
    outside = tmp_path / "outside.mar"
    build_archive(outside, model_name="outside", version="1", serialized_file=artifacts.mlp_script,
                  config=mlp_config())
    _, c = serve(store, models_to_load=[])
    assert [(e.name, e.state) for e in c.repository_index()] == [("mlp", "UNAVAILABLE")]
    for name in ("../outside", str(outside), "outside", "mlp.mar", "https://example.com/evil.mar", "", "."):
        with pytest.raises((errors.NotFoundError, errors.InvalidArgumentError)):
            c.load_model(name)
    assert not (tmp_path / "work").exists() or not any((tmp_path / "work").rglob("*.pt"))
    c.load_model("mlp")
    assert c.infer("mlp", {"x": ONE})["y"].shape == (1, 3)


def test_unloading_drains_in_flight_requests(tmp_path, artifacts, serve):
    store = tmp_path / "store"
    one = models.tensors([("INPUT0", "FP32", (-1, 1))], [("OUTPUT0", "FP32", (-1, 1))])
    build_archive(store / "slow.mar", model_name="slow", version="1", serialized_file=artifacts.identity,
                  handler=models.write_text(tmp_path / "slow.py", models.SLOW_HANDLER), config={"tensors": one})
    srv, _ = serve(store)
    registry = srv.server.metrics.registry

    async def scenario():
        async with AsyncInferenceClient(srv.address, timeout=20) as c:
            request = asyncio.ensure_future(c.infer("slow", {"INPUT0": np.full((1, 1), 7, np.float32)}))
            while not registry.get_sample_value("tandem_in_flight_requests", {"model": "slow", "version": "1"}):
                assert not request.done(), request
                await asyncio.sleep(0.005)
            await c.unload_model("slow")
            assert request.done(), "unload returned before its in-flight request was answered"
            with pytest.raises(errors.UnavailableError):
                await c.infer("slow", {"INPUT0": np.ones((1, 1), np.float32)})
            return await request

    assert asyncio.run(scenario())["OUTPUT0"][0, 0] == 7


def test_management_needs_the_token_and_can_be_switched_off(tmp_path, artifacts, serve):
    store = tmp_path / "store"
    build_archive(store / "mlp.mar", model_name="mlp", version="1", serialized_file=artifacts.mlp_script,
                  config=mlp_config())
    srv, c = serve(store, token="s3cret")
    with InferenceClient(srv.address) as anonymous:
        with pytest.raises(errors.UnauthenticatedError):
            anonymous.unload_model("mlp")
        with pytest.raises(errors.UnauthenticatedError):
            anonymous.infer("mlp", {"x": ONE})
    with InferenceClient(srv.address, token="wrong") as wrong:
        with pytest.raises(errors.UnauthenticatedError):
            wrong.load_model("mlp")
    c.unload_model("mlp")
    c.load_model("mlp")
    assert c.infer("mlp", {"x": ONE})["y"].shape == (1, 3)
    srv2, c2 = serve(store, management=False)
    for call in (c2.load_model, c2.unload_model):
        with pytest.raises(errors.PermissionDeniedError, match="--no-management"):
            call("mlp")
    assert c2.infer("mlp", {"x": ONE})["y"].shape == (1, 3)
