"""Dynamic batching really batches (seen in ModelStatistics), by shape, within batchSize; queued
requests whose deadline passes never run; several versions side by side, the highest by default."""

from __future__ import annotations

import numpy as np
import pytest

from client import errors
from torch_service.archive import build_archive

from . import models
from .conftest import mlp_config
from .gating import gated_store, run_behind_blocker


def batch_sizes(stats) -> dict[int, int]:
    return {b.batch_size: b.compute_infer.count for b in stats.batch_stats}


def test_queued_requests_run_as_one_batch_and_bigger_ones_are_refused(tmp_path, artifacts, serve):
    store, gate = gated_store(tmp_path, artifacts, serialized=artifacts.mlp_script,
                              config=mlp_config(batchSize=4, maxBatchDelay=50))
    srv, c = serve(store)
    rng = np.random.default_rng(0)
    big = rng.standard_normal((6, 8)).astype(np.float32)
    with pytest.raises(errors.InvalidArgumentError,
                       match=r"batch of 6 rows is larger than model 'm' accepts \(max_batch_size 4\)"):
        c.infer("m", {"x": big})  # refused before it reaches a worker
    singles = [rng.standard_normal((1, 8)).astype(np.float32) for _ in range(4)]
    results = run_behind_blocker(srv, {"x": -np.ones((1, 8), np.float32)}, [{"x": x} for x in singles], gate)
    reference = c.infer("m", {"x": np.concatenate(singles)})["y"]
    for k, r in enumerate(results):
        np.testing.assert_allclose(r["y"], reference[k:k + 1], rtol=1e-5, atol=1e-6)
    stats = c.statistics("m").model_stats[0]
    # the blocker alone, the 4 queued single rows as one batch of 4, the 4-row reference; the refused
    # request never ran and is not counted
    assert batch_sizes(stats) == {1: 1, 4: 2}
    assert stats.inference_count == 6 and stats.execution_count == 3


def test_requests_with_different_trailing_dims_go_in_different_batches(tmp_path, artifacts, serve):
    config = {"batchSize": 2, "maxBatchDelay": 50,
              "tensors": models.tensors([("INPUT0", "INT32", (-1, -1))], [("OUTPUT0", "INT32", (-1, -1))])}
    store, gate = gated_store(tmp_path, artifacts, serialized=artifacts.identity, config=config)
    srv, c = serve(store)
    queued = [{"INPUT0": np.full((1, width), i, np.int32)} for i, width in enumerate((3, 5, 3, 5))]
    results = run_behind_blocker(srv, {"INPUT0": np.full((1, 4), -1, np.int32)}, queued, gate)
    for x, r in zip(queued, results):
        np.testing.assert_array_equal(r["OUTPUT0"], x["INPUT0"])
    assert batch_sizes(c.statistics("m").model_stats[0]) == {1: 1, 2: 2}  # [3, 3] and [5, 5], never mixed


def test_a_request_whose_deadline_passes_in_the_queue_never_runs(tmp_path, artifacts, serve):
    store, gate = gated_store(tmp_path, artifacts, serialized=artifacts.mlp_script,
                              config=mlp_config(batchSize=4, maxBatchDelay=50))
    srv, c = serve(store)
    [late] = run_behind_blocker(srv, {"x": -np.ones((1, 8), np.float32)}, [{"x": np.ones((1, 8), np.float32)}],
                                gate, timeouts=[0.2])
    assert isinstance(late, errors.DeadlineExceededError)
    stats = c.statistics("m").model_stats[0]
    assert stats.execution_count == 1 and batch_sizes(stats) == {1: 1}  # only the blocker ran
    assert stats.inference_stats.fail.count == 1


def _add_sub_version(store, src, version, offset, *, folder=False):
    state = models.save_state_dict(models.AddSub(offset), src / f"add_sub_{version}.pt")
    model_file = models.write_text(src / "add_sub_model.py", models.ADD_SUB_SOURCE)
    out = store / "add_sub" / (version if folder else f"{version}.mar")
    build_archive(out, model_name="add_sub", version=version, serialized_file=state, model_file=model_file,
                  config={"tensors": models.ADD_SUB_TENSORS}, as_folder=folder)


def test_versions_side_by_side_highest_serves_by_default(tmp_path, serve):
    store, src = tmp_path / "store", tmp_path / "src"
    _add_sub_version(store, src, "1", 0.0)
    _add_sub_version(store, src, "2", 1.0, folder=True)
    _add_sub_version(store, src, "10", 9.0)
    _, c = serve(store)
    a = np.ones((2, 16), np.float32)
    inputs = {"INPUT0": a, "INPUT1": a}
    assert c.model_metadata("add_sub").versions == ("1", "2", "10")
    assert c.infer("add_sub", inputs)["OUTPUT0"][0, 0] == 11.0  # 10 > 2 numerically
    for version, expected in (("1", 2.0), ("2", 3.0), ("10", 11.0)):
        assert c.infer("add_sub", inputs, version=version)["OUTPUT0"][0, 0] == expected
        assert c.model_metadata("add_sub", version).name == "add_sub"
    with pytest.raises(errors.NotFoundError, match="versions: 1, 2, 10"):
        c.infer("add_sub", inputs, version="3")
    assert [e.version for e in c.repository_index() if e.name == "add_sub"] == ["1", "2", "10"]
