"""Bad input to the comparison runner: a clear message and exit code 2 before any load."""

from __future__ import annotations

import json

import numpy as np
import pytest

from loadtests.cli import main
from tests.support.echo import EchoLoader
from tests.support.ports import free_port

from .conftest import echo_server, run_module


class _NoAddSub(EchoLoader):
    """An echo store without `add_sub`: the model is missing on that side."""

    def names(self):
        return [n for n in super().names() if n != "add_sub"]


def _compare(torch, tf, tmp_path, *extra):
    return ["compare", "--torch", torch, "--tf", tf, "--model", "add_sub", "--duration", "1s", "--warmup", "0s",
            "--quiet", "--out", str(tmp_path / "out"), *extra]


def _no_load(tmp_path):
    out = tmp_path / "out"
    return not out.exists() or not any(out.glob("locust-*"))


def test_a_target_that_is_down_fails_before_any_load(echo_pair, tmp_path):
    down = f"127.0.0.1:{free_port()}"
    proc = run_module(*_compare(echo_pair[0], down, tmp_path), timeout=60)
    assert proc.returncode == 2
    assert f"tf (grpc://{down}) is not reachable" in proc.stderr and "no load was sent" in proc.stderr
    assert len([line for line in proc.stderr.splitlines() if line.startswith("error:")]) == 1
    assert _no_load(tmp_path)


def test_a_model_missing_on_one_side_is_named(echo_pair, tmp_path, capsys):
    with echo_server(_NoAddSub()) as lacking:
        code = main(_compare(echo_pair[0], lacking.address, tmp_path))
    err = capsys.readouterr().err
    assert code == 2
    assert f"tf (grpc://{lacking.address}) does not serve model 'add_sub'" in err
    assert _no_load(tmp_path)


@pytest.mark.parametrize("extra, message", [
    (["--users", "0"], "--users must be between 1"),
    (["--scenario", "latency", "--users", "4"], "the latency scenario runs one user"),
    (["--batch-size", "0"], "--batch-size must be >= 1"),
    (["--check-rate", "2"], "--check-rate must be a fraction"),
    (["--scenario", "ramp", "--ramp-step-time", "5s"], "must hold at least one step"),
    (["--inputs", "/nonexistent/inputs.npz"], "no such file"),
    (["--parity", "/nonexistent/parity.json"], "no such file"),
])
def test_nonsense_options_are_refused(echo_pair, tmp_path, capsys, extra, message):
    assert main(_compare(*echo_pair, tmp_path, *extra)) == 2
    assert message in capsys.readouterr().err
    assert _no_load(tmp_path)


def test_unparsable_options_exit_2(echo_pair, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(_compare(*echo_pair, tmp_path, "--duration", "soon"))
    assert exc.value.code == 2
    assert "'soon' is not a duration" in capsys.readouterr().err


def test_same_address_twice_and_bad_address(echo_pair, tmp_path, capsys):
    assert main(_compare(echo_pair[0], echo_pair[0], tmp_path)) == 2
    assert "same address" in capsys.readouterr().err
    assert main(_compare("ftp://127.0.0.1:80", echo_pair[1], tmp_path)) == 2
    assert "unsupported scheme" in capsys.readouterr().err


def test_duplicate_names_and_a_single_target(echo_pair, tmp_path, capsys):
    base = ["compare", "--model", "add_sub", "--duration", "1s", "--warmup", "0s", "--quiet", "--out",
            str(tmp_path / "out")]
    assert main([*base, "--target", f"a={echo_pair[0]}", "--target", f"a={echo_pair[1]}"]) == 2
    assert "target name given twice: a; give each --target its own NAME" in capsys.readouterr().err
    assert main([*base, "--target", f"a={echo_pair[0]}"]) == 2
    assert "a comparison needs two targets or more, got 1" in capsys.readouterr().err
    assert main([*base, "--target", f"a={echo_pair[0]}", "--target", f"b={echo_pair[1]}", "--rounds", "0"]) == 2
    assert "--rounds must be between 1" in capsys.readouterr().err
    assert _no_load(tmp_path)


def test_inputs_that_do_not_fit_the_signature(echo_pair, tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    np.savez(bad, INPUT0=np.zeros((4, 8), np.float32), INPUT1=np.zeros((4, 16), np.float32))
    assert main(_compare(*echo_pair, tmp_path, "--inputs", str(bad))) == 2
    assert "array 'INPUT0' is FP32 [4, 8], the model expects INPUT0: FP32 [-1, 16]" in capsys.readouterr().err


def test_a_parity_file_about_another_model(echo_pair, tmp_path, capsys):
    parity = tmp_path / "parity.json"
    parity.write_text(json.dumps({"schema": "tandem.parity/1", "model": "resnet18", "passed": True, "outputs": []}))
    assert main(_compare(*echo_pair, tmp_path, "--parity", str(parity))) == 2
    assert "no result for model 'add_sub' (it covers: resnet18)" in capsys.readouterr().err
