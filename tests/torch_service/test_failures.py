"""A model that raises fails only its batch (INTERNAL, generic message, logged once) and keeps
serving; a handler that breaks its declared signature is caught; responseTimeout and the queue
bound hold."""

from __future__ import annotations

import logging
import re

import grpc
import numpy as np
import pytest

from client import errors
from torch_service.archive import build_archive

from . import models
from .conftest import mlp_config
from .gating import gated_store, run_behind_blocker

ONE = np.ones((1, 8), np.float32)


def test_a_raising_model_fails_only_its_batch_and_keeps_serving(tmp_path, artifacts, serve, caplog):
    store, gate = gated_store(tmp_path, artifacts, serialized=artifacts.mlp_script,
                              config=mlp_config(batchSize=4, maxBatchDelay=50))
    srv, c = serve(store)
    bad = np.full((1, 8), -100, np.float32)
    with caplog.at_level(logging.ERROR, "tandem.torch.worker"):
        results = run_behind_blocker(srv, {"x": -ONE}, [{"x": bad}, {"x": ONE}, {"x": ONE}], gate)
    assert all(isinstance(r, errors.ServerError) and r.code == grpc.StatusCode.INTERNAL for r in results)
    message = results[0].message
    assert "secret" not in message and "failed on this request's batch" in message
    ref = re.search(r"ref ([0-9a-f]+)", message).group(1)
    assert all(r.message == message for r in results), "one batch, one failure, one reference"
    records = [r for r in caplog.records if ref in r.getMessage()]
    assert len(records) == 1 and "a batch of 3 rows" in records[0].getMessage()
    assert "secret internal detail" in caplog.text  # the detail is in the log, not in the answer
    assert c.infer("m", {"x": ONE})["y"].shape == (1, 3)  # the worker serves on
    stats = c.statistics("m").model_stats[0]
    assert stats.inference_stats.fail.count == 3 and stats.inference_count == 2


BAD_OUTPUT_HANDLER = '''
import numpy as np
from torch_service.handler import BaseHandler


class Bad(BaseHandler):
    def handle(self, data, context):
        x = data["x"]
        if x[0, 0] > 10:
            return [{"y": row} for row in x]  # TorchServe style: one result per request
        if x[0, 0] > 5:
            return {"nope": x}
        return {"y": np.zeros((x.shape[0], 3), np.float64)}
'''


def test_a_handler_breaking_its_signature_is_internal_with_the_reason(tmp_path, serve, artifacts):
    store = tmp_path / "store"
    build_archive(store / "b.mar", model_name="b", version="1", serialized_file=artifacts.mlp_script,
                  handler=models.write_text(tmp_path / "bad.py", BAD_OUTPUT_HANDLER), config=mlp_config())
    _, c = serve(store)
    cases = [(np.full((2, 8), 2, np.float32), "output 'y' is FP64 [2, 3], but the model declares FP32 [-1, 3]"),
             (ONE * 6, "produced no output 'y' (it returned: nope)"),
             (ONE * 11, "returned a list; expected a mapping")]
    for x, reason in cases:
        with pytest.raises(errors.ServerError) as info:
            c.infer("b", {"x": x})
        assert info.value.code == grpc.StatusCode.INTERNAL and reason in info.value.message
    assert c.is_model_ready("b")


def test_response_timeout_bounds_a_request_and_the_server_serves_on(tmp_path, serve, artifacts):
    store = tmp_path / "store"
    one = models.tensors([("INPUT0", "FP32", (-1, 1))], [("OUTPUT0", "FP32", (-1, 1))])
    build_archive(store / "slow.mar", model_name="slow", version="1", serialized_file=artifacts.identity,
                  handler=models.write_text(tmp_path / "slow.py", models.SLOW_HANDLER),
                  config={"responseTimeout": 0.1, "tensors": one})
    build_archive(store / "mlp.mar", model_name="mlp", version="1", serialized_file=artifacts.mlp_script,
                  config=mlp_config())
    _, c = serve(store)
    with pytest.raises(errors.DeadlineExceededError):
        c.infer("slow", {"INPUT0": np.ones((1, 1), np.float32)}, timeout=20)
    assert c.infer("mlp", {"x": ONE})["y"].shape == (1, 3)


def test_a_full_queue_is_resource_exhausted(tmp_path, serve, artifacts):
    store, gate = gated_store(tmp_path, artifacts, serialized=artifacts.mlp_script,
                              config=mlp_config(maxQueueSize=1))
    srv, _ = serve(store)
    results = run_behind_blocker(srv, {"x": -ONE}, [{"x": ONE}, {"x": ONE}, {"x": ONE}], gate)
    refused = [r for r in results if isinstance(r, errors.ResourceExhaustedError)]
    served = [r for r in results if isinstance(r, dict)]
    assert len(refused) == 2 and len(served) == 1 and "queue full (1 requests waiting)" in refused[0].message
