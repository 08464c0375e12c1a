"""Parity between real servers that agree, and between servers that differ numerically (exit 1)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from client import InferenceClient
from client import parity as parity_package
from client.cli import main
from client.parity import run_parity

from .conftest import TOKEN
from .models import WEIGHTS

RNG = np.random.default_rng(2024)


def add_sub_inputs(path, samples=40):
    x = {"INPUT0": RNG.standard_normal((samples, 16)).astype(np.float32),
         "INPUT1": RNG.standard_normal((samples, 16)).astype(np.float32)}
    np.savez(path, **x)
    return x


@pytest.mark.parametrize("model", ["add_sub", "classifier", "text", "words", "single"])
def test_two_identical_servers_agree_on_generated_inputs(servers, model):
    report = run_parity(servers["ref"], servers["twin"], model, samples=20, seed=11, batch_size=8)
    assert report.passed and report.exit_code == 0, report.render()
    doc = report.to_dict()
    assert doc["inputs"]["source"] == "generated" and doc["inputs"]["samples"] == 20
    assert all(o["mismatched_elements"] == 0 and o["elements"] > 0 for o in doc["outputs"])
    if model == "single":  # no batch axis: one sample per request
        assert doc["inputs"]["requests"] == 20 and doc["inputs"]["batch_size"] == 1
    else:
        assert doc["inputs"]["requests"] == 3
    if model == "classifier":
        assert doc["classification"]["top1_agreement"] == 1.0 and doc["classification"]["samples"] == 20


def test_cli_agreement_against_the_conformance_echo_backend(servers, tmp_path, capsys):
    """The echo backend's add_sub v1 and the parity test model are two implementations of one contract."""
    out = tmp_path / "report.json"
    code = main(["parity", "--a", servers["echo"], "--b", servers["ref"], "--model", "add_sub",
                 "--version", "1", "--samples", "33", "--batch-size", "8", "--json", str(out)])
    table = capsys.readouterr().out
    assert code == 0, table
    assert "PASS" in table and "OUTPUT0" in table and "OUTPUT1" in table
    doc = json.loads(out.read_text())
    assert set(doc) == {"schema", "passed", "exit_code", "model", "a", "b", "tolerance", "inputs", "signature",
                        "outputs", "classification", "failures", "notes", "error"}
    assert doc["schema"] == "tandem.parity/1" and doc["passed"] is True and doc["exit_code"] == 0
    assert doc["a"]["url"] == servers["echo"] and doc["a"]["platform"] == "tandem_echo"
    assert doc["b"]["platform"] == "parity_test" and doc["a"]["version"] == "1"
    assert doc["inputs"] == {"source": "generated", "path": None, "seed": 0, "samples": 33, "batch_size": 8,
                             "requests": 5, "labels": False}  # add_sub batches up to 8 rows
    assert doc["tolerance"] == {"atol": 1e-4, "rtol": 1e-3, "min_top1_agreement": None}
    assert doc["signature"]["inputs"][0] == {"name": "INPUT0", "datatype": "FP32", "shape": [-1, 16]}
    row = doc["outputs"][0]
    assert set(row) == {"name", "datatype", "elements", "mismatched_elements", "max_abs_diff", "max_rel_diff",
                        "mean_abs_diff", "cosine_similarity", "min_cosine_similarity", "worst_sample", "passed",
                        "problem"}
    assert row["elements"] == 33 * 16 and row["max_abs_diff"] == 0.0 and row["cosine_similarity"] == 1.0
    assert doc["classification"] is None and doc["failures"] == [] and doc["error"] is None
    documented = parity_package.__doc__
    for key in [*doc, *doc["a"], *doc["inputs"], *row, "top1_agreement", "accuracy_a", "labeled_samples"]:
        assert f'"{key}"' in documented, f"JSON field {key!r} is not documented in client.parity"


def test_other_version_fails_with_exit_1(servers, capsys):
    code = main(["parity", "--a", servers["echo"], "--b", servers["ref"], "--model", "add_sub",
                 "--version-a", "2", "--version-b", "1", "--samples", "8"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL: output 'OUTPUT0': 128 of 128 elements outside tolerance" in out
    assert "OUTPUT1" in out and "model 'add_sub' v2" in out and "model 'add_sub' v1" in out


def test_a_rare_data_dependent_error_is_caught_and_located(servers, tmp_path, capsys):
    path = tmp_path / "inputs.npz"
    x = add_sub_inputs(path)
    bad = x["INPUT0"] > 2.0
    assert 0 < bad.sum() < 20  # a rare condition: a few elements of a few samples
    out = tmp_path / "r.json"
    code = main(["parity", "--a", servers["ref"], "--b", servers["off"], "--model", "add_sub",
                 "--inputs", str(path), "--batch-size", "7", "--json", str(out)])
    assert code == 1, capsys.readouterr().out
    doc = json.loads(out.read_text())
    by_name = {o["name"]: o for o in doc["outputs"]}
    o0, o1 = by_name["OUTPUT0"], by_name["OUTPUT1"]
    assert o0["mismatched_elements"] == int(bad.sum()) and not o0["passed"]
    assert o0["max_abs_diff"] == pytest.approx(1e-2, rel=1e-3)
    assert o0["worst_sample"] in set(np.nonzero(bad.any(axis=1))[0].tolist())
    assert o0["mean_abs_diff"] == pytest.approx(1e-2 * bad.sum() / bad.size, rel=1e-2)
    assert o1["passed"] and o1["max_abs_diff"] == 0.0
    assert doc["inputs"]["source"] == "file" and doc["inputs"]["path"] == str(path)
    assert doc["inputs"]["samples"] == 40 and doc["inputs"]["requests"] == 6
    assert doc["passed"] is False and doc["exit_code"] == 1
    assert len(doc["failures"]) == 1 and doc["failures"][0].startswith("output 'OUTPUT0'")


def test_an_error_within_tolerance_passes_and_is_still_measured(servers, tmp_path):
    path = tmp_path / "inputs.npz"
    add_sub_inputs(path)
    report = run_parity(servers["ref"], servers["drift"], "add_sub", inputs=path)
    assert report.passed
    o0 = report.to_dict()["outputs"][0]
    assert 0 < o0["max_abs_diff"] < 1e-5 and o0["cosine_similarity"] > 0.999999
    strict = run_parity(servers["ref"], servers["drift"], "add_sub", inputs=path, atol=1e-8, rtol=0)
    assert not strict.passed and strict.exit_code == 1


def test_classifier_agreement_and_accuracy_on_labeled_data(servers, tmp_path, capsys):
    x = RNG.standard_normal((60, 8)).astype(np.float32)
    labels = np.argmax(x @ WEIGHTS, axis=1)  # side A's model is exact on these labels
    path = tmp_path / "digits.npz"
    np.savez(path, x=x, labels=labels)
    code = main(["parity", "--a", servers["ref"], "--b", servers["off"], "--model", "classifier",
                 "--inputs", str(path), "--json", str(tmp_path / "c.json")])
    table = capsys.readouterr().out
    assert code == 1  # the logits differ by far more than the tolerance
    c = json.loads((tmp_path / "c.json").read_text())
    shifted = np.argmax(x @ (WEIGHTS + np.array([0.5, 0, 0, 0], np.float32)), axis=1)
    agreement = float((shifted == labels).mean())
    assert 0.5 < agreement < 1.0
    assert c["classification"]["output"] == "logits" and c["classification"]["samples"] == 60
    assert c["classification"]["top1_agreement"] == pytest.approx(agreement)
    assert c["a"]["accuracy"] == 1.0 and c["b"]["accuracy"] == pytest.approx(agreement)
    assert c["inputs"]["labels"] is True
    assert "top-1 agreement" in table and "accuracy on 60 labeled samples: A 100.00%" in table


def test_min_top1_agreement_is_a_failure_of_its_own(servers, tmp_path):
    x = RNG.standard_normal((30, 8)).astype(np.float32)
    report = run_parity(servers["ref"], servers["off"], "classifier", inputs={"x": x}, atol=100, rtol=0,
                        min_top1_agreement=0.999)
    assert [o.passed for o in report.outputs] == [True]
    assert not report.passed and "top-1 agreement" in report.failures[0]


def test_library_accepts_open_clients_and_token_applies_to_both(servers):
    with InferenceClient(servers["locked"], token=TOKEN) as locked:
        report = run_parity(locked, servers["ref"], "add_sub", samples=4)
    assert report.passed
    both = run_parity(servers["locked"], servers["locked"], "add_sub", samples=4, client_options={"token": TOKEN})
    assert both.passed


def test_unbatched_model_takes_one_request_or_stacked_samples(servers):
    one = run_parity(servers["ref"], servers["twin"], "single", inputs={"x": np.ones(3, np.float32)})
    assert one.passed and one.inputs["requests"] == 1 and one.inputs["samples"] == 1
    stacked = run_parity(servers["ref"], servers["twin"], "single",
                         inputs={"x": RNG.standard_normal((5, 3)).astype(np.float32)})
    assert stacked.passed and stacked.inputs["requests"] == 5
    assert stacked.outputs[0].elements == 15
