"""The compose `compare` job's orchestration: steps adapt to what earlier steps produced, the exit
code is the worst step's, and an unwritable report folder is explained; and one whole run against
two real servers that answer some bad requests differently (numeric parity, behaviour parity, load,
merged report)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from deploy import compare_job
from deploy.compare_job import Step


@pytest.fixture()
def zoo(tmp_path) -> Path:
    root = tmp_path / "models"
    (root / "parity").mkdir(parents=True)
    (root / "zoo.json").write_text(json.dumps({"models": {"digits-mlp": {}, "text-encoder": {}}}))
    (root / "parity" / "digits-mlp.npz").write_bytes(b"")
    return root


def test_plan_passes_the_parity_inputs_the_zoo_wrote(zoo, tmp_path):
    args = compare_job.parse_args(["--zoo", str(zoo), "--out", str(tmp_path / "r"), "--", "--users", "4"])
    steps = compare_job.plan(args, compare_job.select_models(args.models, args.zoo))
    parity_digits, behaviour_digits, load_digits, parity_text, behaviour_text, load_text, merge = steps
    assert "--inputs" in parity_digits.argv and "--inputs" not in parity_text.argv
    assert behaviour_digits.argv[:2] == ("parity", "--behaviour") and behaviour_digits.module == "client"
    behaviour_json = str(tmp_path / "r" / "text-encoder" / "behaviour.json")
    assert behaviour_text.argv[-2:] == ("--json", behaviour_json)
    assert load_text.argv[load_text.argv.index("--behaviour") + 1] == behaviour_json
    assert load_digits.argv[-2:] == ("--users", "4") and merge.merge
    args = compare_job.parse_args(["--zoo", str(zoo), "--models", "text-encoder", "--skip-parity"])
    steps = compare_job.plan(args, compare_job.select_models(args.models, args.zoo))
    assert [s.what for s in steps] == ["load text-encoder", "merged report"]
    assert "--parity" not in steps[0].argv and "--behaviour" not in steps[0].argv


def test_steps_leave_out_what_earlier_steps_did_not_produce(tmp_path):
    parity, behaviour = tmp_path / "m" / "parity.json", tmp_path / "m" / "behaviour.json"
    argv = ("compare", "--model", "m", "--parity", str(parity), "--behaviour", str(behaviour), "--out", "x")
    load = Step("load m", "loadtests", argv, optional=(parity, behaviour))
    assert load.runnable_argv() == ["compare", "--model", "m", "--out", "x"]
    parity.parent.mkdir()
    behaviour.write_text("{}")
    assert load.runnable_argv() == ["compare", "--model", "m", "--behaviour", str(behaviour), "--out", "x"]
    parity.write_text("{}")
    assert load.runnable_argv() == list(load.argv)

    merge = Step("merged", "loadtests", ("report", "--in", str(tmp_path / "m"), str(tmp_path / "n"), "--out", "o"),
                 merge=True)
    assert merge.runnable_argv() is None
    (tmp_path / "m" / "report.json").write_text("{}")
    assert merge.runnable_argv() == ["report", "--in", str(tmp_path / "m"), "--out", "o"]


def test_exit_code_is_the_worst_step(tmp_path, monkeypatch, capsys):
    (tmp_path / "exits.py").write_text("import sys\nsys.exit(int(sys.argv[1]))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    assert compare_job.run([Step("a", "exits", ("0",))]) == 0
    assert compare_job.run([Step("a", "exits", ("1",)), Step("b", "exits", ("0",))]) == 1
    assert compare_job.run([Step("a", "exits", ("2",)), Step("b", "exits", ("1",))]) == 2
    assert compare_job.run([Step("a", "exits", ("7",))]) == 2
    merge = Step("merged", "exits", ("report", "--in", str(tmp_path / "none"), "--out", "o"), merge=True)
    assert compare_job.run([Step("a", "exits", ("0",)), merge]) == 1
    out = capsys.readouterr().out
    assert "skipped" in out and "== summary" in out


def test_an_unwritable_report_folder_is_explained(tmp_path, zoo, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert compare_job.main(["--zoo", str(zoo), "--out", str(blocker / "reports")]) == 2
    err = capsys.readouterr().err
    assert "./reports" in err and "TANDEM_UID" in err


def test_a_zoo_that_was_not_built_is_explained(tmp_path, capsys):
    assert compare_job.main(["--zoo", str(tmp_path / "nothing"), "--out", str(tmp_path / "r")]) == 2
    assert "zoo service" in capsys.readouterr().err


def test_outputs_of_an_earlier_run_are_not_taken_for_this_ones(zoo, tmp_path, monkeypatch):
    out = tmp_path / "r"
    (out / "digits-mlp").mkdir(parents=True)
    for name in ("parity.json", "behaviour.json", "report.json"):
        (out / "digits-mlp" / name).write_text("{}")
    seen = []
    monkeypatch.setattr(compare_job.subprocess, "call", lambda cmd: seen.append(cmd) or 2)
    assert compare_job.main(["--zoo", str(zoo), "--out", str(out), "--models", "digits-mlp"]) == 2
    assert len(seen) == 3 and "--parity" not in seen[2] and "--behaviour" not in seen[2], \
        "the stale parity files and report were not used"


def test_steps_run_with_this_interpreter(zoo, tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(compare_job.subprocess, "call", lambda cmd: seen.append(cmd) or 0)
    assert compare_job.main(["--zoo", str(zoo), "--out", str(tmp_path / "r"), "--models", "digits-mlp"]) == 1
    assert [cmd[:3] for cmd in seen] == [[sys.executable, "-m", "client"]] * 2 + [[sys.executable, "-m", "loadtests"]]
    assert "--parity" not in seen[2] and "--behaviour" not in seen[2], "no parity JSON was written, so none is passed"
    assert (tmp_path / "r" / "digits-mlp").is_dir()


def test_extra_targets_go_to_every_comparison_and_the_compose_job_adds_tf_serving(zoo, tmp_path):
    import yaml

    from loadtests.cli import config_from_args, parser

    args = compare_job.parse_args(["--zoo", str(zoo), "--out", str(tmp_path / "r"), "--skip-parity",
                                   "--target", "tfs=tfserving://tfserving:8500", "--target", "ts=torchserve://h:7070"])
    steps = compare_job.plan(args, compare_job.select_models(args.models, args.zoo))
    load = [s for s in steps if s.what.startswith("load ")]
    assert len(load) == 2
    for step in load:
        argv = list(step.argv)
        assert argv[argv.index("--tf") + 2:argv.index("--tf") + 6] == [
            "--target", "tfs=tfserving://tfserving:8500", "--target", "ts=torchserve://h:7070"]
        # the real `loadtests compare` command line parses them into four targets, in order
        config = config_from_args(parser().parse_args(argv))
        assert [(t.name, t.kind) for t in config.targets] == [
            ("torch", "grpc"), ("tf", "grpc"), ("tfs", "tfserving"), ("ts", "torchserve")]
    compose = yaml.safe_load((Path(__file__).resolve().parents[2] / "docker-compose.yml").read_text())
    command = compose["services"]["compare"]["command"]
    i = command.index("--target")
    assert command[i + 1] == "tfserving=tfserving://tfserving:8500"
    assert compare_job.parse_args(command).target == ["tfserving=tfserving://tfserving:8500"]


def test_a_whole_run_reports_behaviour_parity_and_fails_a_model_whose_sides_differ(tmp_path):
    from tests.loadtests.echo_variants import DIFFERING_CASES, differing_pair

    root = Path(__file__).resolve().parents[2]
    zoo, out = tmp_path / "models", tmp_path / "reports"
    (zoo / "parity").mkdir(parents=True)
    (zoo / "zoo.json").write_text(json.dumps({"models": {"add_sub": {"tolerance": {"atol": 1e-6, "rtol": 1e-6}}}}))
    rng = np.random.default_rng(0)  # 8 samples: parity's requests stay within the echo model's max_batch_size
    np.savez(zoo / "parity" / "add_sub.npz", INPUT0=rng.standard_normal((8, 16), dtype=np.float32),
             INPUT1=rng.standard_normal((8, 16), dtype=np.float32))
    with differing_pair() as (a, b):
        proc = subprocess.run([sys.executable, "-m", "deploy.compare_job", "--torch", a, "--tf", b, "--zoo", str(zoo),
                               "--out", str(out), "--", "--rounds", "1", "--users", "1", "--duration", "1s",
                               "--warmup", "0s"], cwd=root, env={**os.environ, "PYTHONPATH": str(root)},
                              capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # behaviour parity failed; everything else ran
    summary = proc.stdout[proc.stdout.index("== summary"):]
    for step, outcome in (("parity add_sub", "exit 0"), ("behaviour parity add_sub", "exit 1"),
                          ("load add_sub", "exit 0"), ("merged report", "exit 0")):
        assert f"{step:<32} {outcome}" in summary, summary
    (model,) = json.loads((out / "report.json").read_text())["models"]
    assert model["parity"]["verdict"] == "pass" and model["behaviour"]["verdict"] == "fail"
    assert [c["name"] for c in model["behaviour"]["cases"] if not c["same_status"]] == list(DIFFERING_CASES)
    assert model["complete"] is True
    md = (out / "report.md").read_text()
    assert "### Parity: PASS" in md and "### Behaviour parity: FAIL" in md
    assert "| batch of 33 rows | batch | any | INVALID_ARGUMENT | OK | NO |" in md
