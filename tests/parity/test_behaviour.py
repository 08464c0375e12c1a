"""Behaviour parity: the corpus of bad requests against the real torch_service and tf_service
(embedded) serving the zoo's digits-mlp and text-encoder, built by `python -m zoo build` once per
module; and the verdicts and exit codes of `python -m client parity --behaviour`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from client import InferenceClient, errors
from client.cli import main
from client.messages import ModelMetadata, TensorSpec
from client.parity.behaviour import run_behaviour
from client.parity.corpus import ERROR, corpus
from server_core.model import ServedModel, Signature
from server_core.repository import Loader
from tests.support.process import ROOT

from .models import serve

MODELS = ("digits-mlp", "text-encoder")


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    """(torch address, tf address) serving a zoo of MODELS built in a temporary folder."""
    from tests.tf_service.process import tf_service
    from tests.torch_service.service import running_service

    out = tmp_path_factory.mktemp("zoo")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    built = subprocess.run([sys.executable, "-m", "zoo", "build", "--out", str(out), "--models", ",".join(MODELS),
                            "--quiet"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert built.returncode == 0, built.stderr[-4000:]
    with running_service(out / "torch", log_path=out / "torch_service.log") as torch_side, \
            tf_service("--model-base-path", str(out / "tf"), "--backend", "embedded") as tf_side:
        yield torch_side.address, tf_side.address


@pytest.fixture(scope="module")
def reports(services):
    a, b = services
    return {model: run_behaviour(a, b, model) for model in MODELS}


def case(report, name):
    return next(r for r in report.results if r.case.name == name)


@pytest.mark.parametrize("model", MODELS)
def test_both_services_answer_the_whole_corpus_alike(reports, model):
    report = reports[model]
    summary = report.summary()
    assert report.passed, "\n" + report.render()
    assert summary["cases"] >= 25 and summary["same_status"] == summary["cases"]
    assert summary["internal"] == 0
    assert summary["same_message"] == summary["cases"], "\n" + report.render()
    refused = [r for r in report.results if r.case.expect == ERROR]
    assert refused and all(r.a.code != "OK" for r in refused)


def test_digits_batch_over_max_batch_size_is_invalid_argument_on_both(reports):
    r = case(reports["digits-mlp"], "batch of 33 rows")
    assert r.a.code == r.b.code == "INVALID_ARGUMENT"
    assert r.a.message == r.b.message == ("input 'x': batch of 33 rows is larger than model 'digits-mlp' accepts "
                                          "(max_batch_size 32); split the request")


@pytest.mark.parametrize("name, fragment", [
    ("input_ids: value -1 below [0, 1000)", "value -1 at index"),
    ("input_ids: value 1000 at the top of [0, 1000)", "value 1000 at index"),
    ("input_ids: dimension 1 is 129, max 128", "dimension 1 is 129, larger than the maximum 128"),
    ("attention_mask: dimension 1 differs from input_ids's", "differs from input 'input_ids'"),
    ("attention_mask: one more row than the other inputs", "needs the same batch size"),
])
def test_text_encoder_mistakes_are_invalid_argument_with_one_message(reports, name, fragment):
    r = case(reports["text-encoder"], name)
    assert r.a.code == r.b.code == "INVALID_ARGUMENT"
    assert r.a.message == r.b.message and fragment in r.a.message


def test_token_id_minus_one_is_refused_not_answered(services):
    ids = np.array([[101, 7, -1, 5]], np.int64)
    messages = []
    for address in services:
        with InferenceClient(address, max_attempts=1) as c:
            with pytest.raises(errors.InvalidArgumentError) as info:
                c.infer("text-encoder", {"input_ids": ids, "attention_mask": np.ones_like(ids)})
            messages.append(info.value.message)
            ok = c.infer("text-encoder", {"input_ids": np.abs(ids), "attention_mask": np.ones_like(ids)})
            assert ok["pooler_output"].shape == (1, 128)  # the service keeps serving
    assert messages[0] == messages[1] and "value -1 at index [0, 2] is outside [0, 1000)" in messages[0]


def test_cli_prints_the_table_and_writes_json(services, capsys, tmp_path):
    a, b = services
    out = tmp_path / "behaviour.json"
    code = main(["parity", "--behaviour", "--a", a, "--b", b, "--model", "digits-mlp", "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "batch of 33 rows" in printed and "PASS: both sides behave the same" in printed
    doc = json.loads(out.read_text())
    assert doc["schema"] == "tandem.behaviour/1" and doc["exit_code"] == 0 and doc["error"] is None
    assert doc["summary"]["cases"] == len(doc["cases"]) == doc["summary"]["same_status"]


# ------------------------------------------------------------------ verdicts, on in-process servers

class _Ranged(Loader):
    """One model `m` (x FP32 [-1, 4]); `declared` adds the property x.range = 0,1."""

    platform = "behaviour_test"

    def __init__(self, declared: bool):
        self.declared = declared

    def names(self):
        return ["m"]

    def load(self, name):
        spec = (TensorSpec("x", "FP32", (-1, 4)),)
        return [ServedModel("m", "1", Signature(spec, (TensorSpec("y", "FP32", (-1, 4)),)),
                            lambda inputs: {"y": inputs["x"]}, platform=self.platform,
                            properties={"x.range": "0,1"} if self.declared else {})]


@pytest.fixture(scope="module")
def ranged():
    with serve(_Ranged(True)) as declared, serve(_Ranged(False)) as undeclared:
        yield declared, undeclared


def test_a_status_difference_exits_1_and_names_the_case(ranged, capsys):
    declared, undeclared = ranged
    code = main(["parity", "--behaviour", "--a", declared, "--b", undeclared, "--model", "m", "--json", "-"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1 and doc["exit_code"] == 1 and not doc["passed"]
    failed = {c["name"]: c for c in doc["cases"] if c["failure"]}
    assert set(failed) == {"x: value 2.0 above [0.0, 1.0]", "x: value NaN in [0.0, 1.0]"}
    assert failed["x: value 2.0 above [0.0, 1.0]"]["a"]["code"] == "INVALID_ARGUMENT"
    assert failed["x: value 2.0 above [0.0, 1.0]"]["b"] == {"code": "OK", "message": ""}


def test_a_missing_model_exits_2(ranged, capsys):
    declared, _ = ranged
    code = main(["parity", "--behaviour", "--a", declared, "--b", declared, "--model", "nope", "--json", "-"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 2 and doc["exit_code"] == 2 and "nope" in doc["error"]["message"]


def test_the_corpus_is_generated_from_the_metadata_alone():
    inputs = (TensorSpec("ids", "INT32", (-1, -1)), TensorSpec("mask", "INT32", (-1, -1)))
    meta = ModelMetadata("t", ("1",), "p", inputs, (TensorSpec("out", "FP32", (-1, 3)),),
                         {"ids.range": "0,10", "ids.max_shape": "0,6", "mask.shape_as": "ids"})
    cases = corpus(meta)
    names = [c.name for c in cases]
    assert len(names) == len(set(names))
    for expected in ("valid request", "unknown model", "ids: value -1 below [0, 10)", "ids: dimension 1 is 7, max 6",
                     "mask: one more row than the other inputs", "ids: one more column than mask",
                     "unknown output requested", "ids: raw contents one element short"):
        assert expected in names, names
    assert [c.name for c in corpus(meta)] == names  # stable for a seed
