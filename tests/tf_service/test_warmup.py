"""tf_service warm-up (embedded backend): TF Serving's `assets.extra/tf_serving_warmup_requests`,
written by TensorFlow's own TFRecordWriter, runs before the version is READY; a warm-up file that
does not fit keeps the model out of READY with the reason in RepositoryIndex."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from client import InferenceClient
from tf_service import warmup
from tf_service.embedded import EmbeddedBackend

from .conftest import serving


def write_warmup(version_dir, requests: list[dict], kind: str = "predict_log"):
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    path = version_dir / "assets.extra" / "tf_serving_warmup_requests"
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for inputs in requests:
            log = prediction_log_pb2.PredictionLog()
            if kind == "predict_log":
                for key, array in inputs.items():
                    log.predict_log.request.inputs[key].CopyFrom(tf.make_tensor_proto(array))
            else:
                log.classify_log.request.model_spec.name = "x"
            writer.write(log.SerializeToString())


def test_warm_up_runs_before_ready_and_a_bad_file_is_the_reason(store_copy, caplog):
    row = np.ones((1, 16), np.float32)
    write_warmup(store_copy / "add_sub" / "1", [{"INPUT0": row, "INPUT1": row}, {"INPUT0": row, "INPUT1": row}])
    write_warmup(store_copy / "identity_fp32" / "1", [{"nope": np.ones((1, 1), np.float32)}])
    write_warmup(store_copy / "slow" / "1", [{}], kind="classify_log")
    with caplog.at_level(logging.INFO, logger="tandem.warmup"), \
            serving(EmbeddedBackend(store_copy, poll_s=0)) as srv, InferenceClient(srv.address) as c:
        assert c.is_model_ready("add_sub", "1")
        reasons = {e.name: e.reason for e in c.repository_index() if e.state == "UNAVAILABLE"}
    lines = [r.getMessage() for r in caplog.records if r.name == "tandem.warmup"]
    assert any(f"model add_sub version 1 warmed up: 2 request(s) from {warmup.FILE}" in line for line in lines), lines
    assert "feeds 'nope', which is not an input" in reasons["identity_fp32"], reasons
    assert "only predict_log is supported" in reasons["slow"], reasons


def test_broken_framing_is_named():
    with pytest.raises(warmup.WarmupError, match="claims 100 bytes"):
        warmup.tfrecords(b"\x64" + b"\0" * 11 + b"short")
