"""The compose `compare` job's orchestration: steps adapt to what earlier steps produced, the exit
code is the worst step's, and an unwritable report folder is explained."""

from __future__ import annotations

import json
import sys
from pathlib import Path

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
    parity_digits, load_digits, parity_text, load_text, merge = steps
    assert "--inputs" in parity_digits.argv and "--inputs" not in parity_text.argv
    assert load_digits.argv[-2:] == ("--users", "4") and merge.merge
    args = compare_job.parse_args(["--zoo", str(zoo), "--models", "text-encoder", "--skip-parity"])
    steps = compare_job.plan(args, compare_job.select_models(args.models, args.zoo))
    assert [s.what for s in steps] == ["load text-encoder", "merged report"] and "--parity" not in steps[0].argv


def test_steps_leave_out_what_earlier_steps_did_not_produce(tmp_path):
    parity = tmp_path / "m" / "parity.json"
    argv = ("compare", "--model", "m", "--parity", str(parity), "--out", "x")
    load = Step("load m", "loadtests", argv, parity=parity)
    assert load.runnable_argv() == ["compare", "--model", "m", "--out", "x"]
    parity.parent.mkdir()
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
    for name in ("parity.json", "report.json"):
        (out / "digits-mlp" / name).write_text("{}")
    seen = []
    monkeypatch.setattr(compare_job.subprocess, "call", lambda cmd: seen.append(cmd) or 2)
    assert compare_job.main(["--zoo", str(zoo), "--out", str(out), "--models", "digits-mlp"]) == 2
    assert "--parity" not in seen[1] and len(seen) == 2, "the stale parity and report were not used"


def test_steps_run_with_this_interpreter(zoo, tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(compare_job.subprocess, "call", lambda cmd: seen.append(cmd) or 0)
    assert compare_job.main(["--zoo", str(zoo), "--out", str(tmp_path / "r"), "--models", "digits-mlp"]) == 1
    assert seen[0][:3] == [sys.executable, "-m", "client"] and seen[1][:3] == [sys.executable, "-m", "loadtests"]
    assert "--parity" not in seen[1], "no parity JSON was written, so none is passed"
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
