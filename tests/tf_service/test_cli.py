"""The command line: backend choice (auto logs which), flags from TF_SERVICE_* variables, refusals
with a clear message, and no TensorFlow import until main() needs it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tf_service import cli

from .process import ROOT

BINARY = ROOT / "tests" / "tf_service" / "fake_tensorflow_model_server"  # the stand-in's command line


def args(*argv, env=None, monkeypatch=None):
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    return cli.build_parser().parse_args(["--model-base-path", "/tmp", *argv])


def test_auto_prefers_an_address_then_the_binary_then_embedded(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert cli.choose_backend(args()) == ("embedded", "no --tfserving-address and no tensorflow_model_server found")
    assert cli.choose_backend(args("--tfserving-binary", str(BINARY)))[0] == "managed"
    kind, why = cli.choose_backend(args("--tfserving-address", "tfs:8500", "--tfserving-binary", str(BINARY)))
    assert (kind, why) == ("tfserving", "--tfserving-address tfs:8500 given")
    monkeypatch.setenv("PATH", str(BINARY.parent))
    assert cli.find_binary(None) is None  # only the real name counts on PATH
    assert cli.choose_backend(args("--backend", "embedded", "--tfserving-binary", str(BINARY)))[0] == "embedded"


def test_environment_variables_set_the_flags(monkeypatch):
    parsed = args(env={"TF_SERVICE_BACKEND": "tfserving", "TF_SERVICE_TFSERVING_ADDRESS": "h:1",
                       "TF_SERVICE_POLL_INTERVAL": "0.25", "TF_SERVICE_PORT": "9999"}, monkeypatch=monkeypatch)
    got = (parsed.backend, parsed.tfserving_address, parsed.poll_interval, parsed.port)
    assert got == ("tfserving", "h:1", 0.25, 9999)
    monkeypatch.delenv("TF_SERVICE_PORT")
    assert cli.build_parser().parse_args(["--model-base-path", "/m"]).port == cli.DEFAULT_PORT == 8600


@pytest.mark.parametrize("argv, fragment", [
    (["--backend", "managed", "--tfserving-binary", "/no/such/binary"], "/no/such/binary was not found"),
    (["--backend", "nope"], "invalid choice: 'nope'"),
    (["--tls-cert", "/c.pem"], "--tls-cert and --tls-key go together"),
])
def test_bad_command_lines_exit_2_with_the_reason(argv, fragment, capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        cli.main(["--model-base-path", str(tmp_path), *argv])
    assert info.value.code == 2
    assert fragment in capsys.readouterr().err


def test_missing_base_path_and_unknown_models_are_refused(capsys, tmp_path):
    with pytest.raises(SystemExit):
        cli.main(["--model-base-path", str(tmp_path / "nope"), "--backend", "embedded"])
    assert "is not a directory" in capsys.readouterr().err
    (tmp_path / "a").mkdir()
    with pytest.raises(SystemExit):
        cli.main(["--model-base-path", str(tmp_path), "--backend", "embedded", "--models", "a,b"])
    assert "--models: b not in the base path (it holds: a)" in capsys.readouterr().err


def test_importing_the_package_and_help_load_no_framework():
    code = ("import sys, tf_service, tf_service.cli, tf_service.config, tf_service.contract, tf_service.errors, "
            "tf_service.store; assert 'tensorflow' not in sys.modules, 'tensorflow imported'")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)
    done = subprocess.run([sys.executable, "-m", "tf_service", "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and "--tfserving-address" in done.stdout and "TF_SERVICE_" in done.stdout
