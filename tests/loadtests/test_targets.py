"""The target kinds beyond grpc://, each against a real server of its kind: torchserve:// against a
real TorchServe 0.12 started from torch-model-archiver output, tfserving:// against the TF Serving
stand-in (tests/tf_service/fake_tfserving.py: the real binary cannot be installed here). Each joins a
comparison with an OIP echo server serving the same add_sub: same request set, answer checks,
rounds and report; a payload the handler does not take, or a model it lacks, stops the comparison
before any load with one line naming the target."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from loadtests.targets import kind_of, parse_target

from .conftest import ROOT, echo_server, run_module
from .torchserve_stack import torchserve


@pytest.fixture(scope="module")
def ts_address(tmp_path_factory):
    with torchserve(tmp_path_factory.mktemp("torchserve")) as address:
        yield address


@pytest.fixture(scope="module")
def tf_stand_in(tmp_path_factory):
    from tests.tf_service import fake_tfserving, models

    store = models.copy_store(tmp_path_factory.mktemp("tfs") / "models", ["add_sub"])
    config = fake_tfserving.model_server_config_pb2.ModelServerConfig()
    entry = config.model_config_list.config.add(name="add_sub", base_path=str(store / "add_sub"))
    entry.model_version_policy.all.SetInParent()
    with fake_tfserving.FakeTFServing(config, poll_s=0) as tfs:
        yield tfs.address


def _compare(tmp_path, *targets, extra=()):
    return run_module("compare", *[a for t in targets for a in ("--target", t)], "--model", "add_sub",
                      "--model-version", "1", "--rounds", "2", "--users", "2", "--duration", "1s", "--warmup", "0.5s",
                      "--check-rate", "1", "--quiet", "--out", str(tmp_path / "out"), *extra, timeout=240)


def _pair(rows=3, seed=0):
    rng = np.random.default_rng(seed)
    return {"INPUT0": rng.standard_normal((rows, 16)).astype(np.float32),
            "INPUT1": rng.standard_normal((rows, 16)).astype(np.float32)}


def test_tfserving_kind_reads_the_signature_and_answers(tf_stand_in):
    target = parse_target(f"tfs=tfserving://{tf_stand_in}")
    kind = kind_of(target)
    meta = kind.metadata(target, "add_sub", "1", 10)
    assert [(s.name, s.datatype, s.shape) for s in meta.inputs] == [("INPUT0", "FP32", (-1, 16)),
                                                                   ("INPUT1", "FP32", (-1, 16))]
    caller = kind.open(target, "add_sub", "1", meta, 10)
    try:
        x = _pair()
        out = caller.decode(caller.call(caller.encode(x), 10)[0])
        np.testing.assert_allclose(out["OUTPUT1"], x["INPUT0"] - x["INPUT1"], rtol=1e-6)
        assert caller.live(5) is True
    finally:
        caller.close()


def _beside_echo(tmp_path, target: str):
    """A comparison of `target` beside the echo OIP server: (model entry, echo's entry, its entry),
    after the checks every stock-server kind must pass: both ran every round, every sampled answer
    checked out, and only the OIP side reports server time."""
    with echo_server() as echo:
        proc = _compare(tmp_path, f"echo=grpc://{echo.address}", target)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (model,) = json.loads((tmp_path / "out" / "report.json").read_text())["models"]
    echo_t, other = model["targets"]
    assert other["status"] == "ok" and [r["round"] for r in other["rounds"]] == [1, 2]
    assert other["requests"]["ok"] > 0 and other["checks"]["sampled"] > 0 and other["checks"]["failed"] == 0
    assert other["server_time"] is None and echo_t["server_time"]["requests"] > 0
    return model, echo_t, other


def test_tfserving_target_in_a_comparison(tf_stand_in, tmp_path):
    model, _, tfs_t = _beside_echo(tmp_path, f"tfs=tfserving://{tf_stand_in}")
    assert tfs_t["kind"] == "tfserving"
    assert model["verdicts"][0]["line"].startswith("tfs ")


def test_tfserving_without_the_model_is_refused(tf_stand_in, tmp_path):
    with echo_server() as echo:
        proc = _compare(tmp_path, f"echo=grpc://{echo.address}", f"tfs=tfserving://{tf_stand_in}?model=nope")
    assert proc.returncode == 2
    assert f"tfs (tfserving://{tf_stand_in}?model=nope) cannot describe model 'nope'" in proc.stderr


def test_torchserve_handler_answers_each_request_its_own_rows(ts_address):
    """The shipped handler (loadtests/targets/torchserve_handler.py) behind a real TorchServe that may
    batch concurrent requests: each answer is exactly its own request's a + b and a - b."""
    from concurrent.futures import ThreadPoolExecutor

    from client.messages import ModelMetadata, TensorSpec

    target = parse_target(f"ts=torchserve://{ts_address}")
    inputs, outputs = ([TensorSpec(n, "FP32", (-1, 16)) for n in names] for names in (("INPUT0", "INPUT1"),
                                                                                       ("OUTPUT0", "OUTPUT1")))
    meta = ModelMetadata("add_sub", ("1",), "", tuple(inputs), tuple(outputs))
    caller = kind_of(target).open(target, "add_sub", "", meta, 30)
    try:
        pairs = [_pair(rows, seed) for seed, rows in enumerate((1, 2, 3, 1, 4, 2, 1, 3))]
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda x: caller.decode(caller.call(caller.encode(x), 30)[0]), pairs))
        for x, out in zip(pairs, answers):
            np.testing.assert_allclose(out["OUTPUT0"], x["INPUT0"] + x["INPUT1"], rtol=1e-6)
            np.testing.assert_allclose(out["OUTPUT1"], x["INPUT0"] - x["INPUT1"], rtol=1e-6)
        assert caller.live(5) is True
    finally:
        caller.close()


def test_torchserve_target_in_a_comparison(ts_address, tmp_path):
    _, _, ts_t = _beside_echo(tmp_path, f"ts=torchserve://{ts_address}?encoding=json")
    assert ts_t["kind"] == "torchserve"
    md = (tmp_path / "out" / "report.md").read_text()
    assert "client-side latency only: torchserve:// reports no server statistics" in md


@pytest.mark.parametrize("query, message", [
    ("?encoding=npy", "a trial request for 'add_sub' failed"),
    ("?model=nope", "a trial request for 'add_sub' failed"),
])
def test_torchserve_payload_or_model_mismatch_stops_before_load(ts_address, tmp_path, query, message):
    with echo_server() as echo:
        proc = _compare(tmp_path, f"echo=grpc://{echo.address}", f"ts=torchserve://{ts_address}{query}")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert f"ts (torchserve://{ts_address}{query})" in line and message in line
    assert "Check ?model= and that the handler takes ?encoding=" in line
    assert not list((tmp_path / "out").glob("locust-*"))


def test_torchserve_unreachable(tmp_path):
    from tests.support.ports import free_port

    with echo_server() as echo:
        down = f"127.0.0.1:{free_port()}"
        proc = _compare(tmp_path, f"echo=grpc://{echo.address}", f"ts=torchserve://{down}")
    assert proc.returncode == 2
    assert f"ts (torchserve://{down}) is not reachable" in proc.stderr


def test_vendored_stubs_match_their_protos():
    """The committed TorchServe / TF Serving stubs are what protoc makes of the .proto files beside them."""
    proc = subprocess.run([sys.executable, "-m", "loadtests.targets.vendor", "--check"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "stubs up to date" in proc.stdout
    proto = (ROOT / "loadtests" / "targets" / "vendor" / "torchserve_inference.proto").read_text()
    assert "0.12" in proto  # the TorchServe version it was taken from
