"""When parity cannot be measured: exit code 2 and a message naming the side and what differs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from client.cli import main
from client.parity import ParityError, run_parity
from tests.support.ports import free_port

from .conftest import TOKEN


def parity(servers, a, b, model, *extra):
    return main(["parity", "--a", servers.get(a, a), "--b", servers.get(b, b), "--model", model, *extra])


def test_model_missing_on_one_side(servers, capsys):
    assert parity(servers, "ref", "echo", "classifier") == 2
    err = capsys.readouterr().err
    assert f"side B ({servers['echo']})" in err and "model 'classifier' not found" in err
    assert "available models: add_sub" in err  # the server's own message travels through


def test_different_input_shape(servers, capsys):
    assert parity(servers, "ref", "narrow", "add_sub") == 2
    err = capsys.readouterr().err
    assert "the two signatures differ: input 'INPUT0': FP32 [-1, 16] on A, FP32 [-1, 8] on B" in err


def test_different_datatype_and_missing_tensor(servers):
    with pytest.raises(ParityError) as info:
        run_parity(servers["int32"], servers["ref"], "text")
    assert "input 'input_ids': INT32 [-1, -1] on A, INT64 [-1, -1] on B" in str(info.value)
    with pytest.raises(ParityError) as info:  # two different models: every name differs
        run_parity(servers["ref"], servers["ref"], "single", model_b="classifier")
    message = str(info.value)
    assert "input 'x' (FP32 [3]) exists on A only" not in message  # 'x' exists on both, shapes differ
    assert "input 'x': FP32 [3] on A, FP32 [-1, 8] on B" in message
    assert "output 'y' (FP32 [3]) exists on A only" in message
    assert "output 'logits' (FP32 [-1, 4]) exists on B only" in message


def test_server_down(servers, tmp_path, capsys):
    down = f"127.0.0.1:{free_port()}"
    out = tmp_path / "error.json"
    code = parity(servers, down, "ref", "add_sub", "--timeout", "5", "--json", str(out))
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"parity error: side A ({down}): ModelMetadata failed, server unreachable")
    doc = json.loads(out.read_text())
    assert set(doc) == {"schema", "passed", "exit_code", "model", "error"} and doc["model"] == "add_sub"
    assert doc["schema"] == "tandem.parity/1" and doc["exit_code"] == 2 and doc["passed"] is False
    assert doc["error"]["side"] == "A" and doc["error"]["url"] == down and doc["error"]["message"]


def test_missing_token_names_the_side(servers, capsys):
    assert parity(servers, "ref", "locked", "add_sub", "--samples", "2") == 2
    err = capsys.readouterr().err
    assert f"side B ({servers['locked']})" in err and "UNAUTHENTICATED" in err
    assert parity(servers, "locked", "locked", "add_sub", "--samples", "2", "--token", TOKEN) == 0


@pytest.mark.parametrize("arrays, expected", [
    ({"INPUT0": np.zeros((4, 16), np.float32)},
     "missing input(s) INPUT1; the model expects INPUT0: FP32 [-1, 16], INPUT1: FP32 [-1, 16]"),
    ({"INPUT0": np.zeros((4, 16), np.float32), "INPUT1": np.zeros((4, 16), np.float32),
      "extra": np.zeros(4)}, "unexpected array(s) extra"),
    ({"INPUT0": np.zeros((4, 16)), "INPUT1": np.zeros((4, 16), np.float32)},
     "array 'INPUT0' is FP64 [4, 16], the model expects INPUT0: FP32 [-1, 16]"),
    ({"INPUT0": np.zeros((4, 8), np.float32), "INPUT1": np.zeros((4, 16), np.float32)},
     "array 'INPUT0' is FP32 [4, 8], the model expects INPUT0: FP32 [-1, 16] (samples along axis 0)"),
    ({"INPUT0": np.zeros((4, 16), np.float32), "INPUT1": np.zeros((3, 16), np.float32)},
     "arrays hold different numbers of samples (INPUT0: 4, INPUT1: 3)"),
])
def test_inputs_file_not_matching_the_signature(servers, tmp_path, capsys, arrays, expected):
    path = tmp_path / "in.npz"
    np.savez(path, **arrays)
    assert parity(servers, "ref", "twin", "add_sub", "--inputs", str(path)) == 2
    err = capsys.readouterr().err
    assert f"inputs file {path}: " in err and expected in err, err


def test_unusable_inputs_file_and_labels(servers, tmp_path, capsys):
    assert parity(servers, "ref", "twin", "add_sub", "--inputs", str(tmp_path / "nope.npz")) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    assert parity(servers, "ref", "twin", "add_sub", "--inputs", str(tmp_path / "junk.npz")) == 2
    assert "is not a readable .npz archive" in capsys.readouterr().err
    path = tmp_path / "labels.npz"
    np.savez(path, x=np.zeros((5, 8), np.float32), labels=np.zeros(4, np.int64))
    assert parity(servers, "ref", "twin", "classifier", "--inputs", str(path)) == 2
    assert "labels are int64 [4]; expected 5 integer class indices" in capsys.readouterr().err


def test_bad_options_are_errors(servers, capsys):
    assert parity(servers, "ref", "twin", "add_sub", "--classification-output", "nope") == 2
    assert "names 'nope', which is not an output of the model (outputs: OUTPUT0, OUTPUT1)" in capsys.readouterr().err
    assert parity(servers, "ref", "twin", "text", "--range", "input_ids=5") == 2
    assert "input 'input_ids': range '5' is malformed" in capsys.readouterr().err
    assert parity(servers, "ref", "twin", "text", "--range", "ids=0,5") == 2
    assert "range given for unknown input(s) ids" in capsys.readouterr().err
    assert parity(servers, "ref", "twin", "add_sub", "--batch-size", "0") == 2
    assert "expected an integer >= 1" in capsys.readouterr().err


def test_generated_inputs_outside_the_model_domain_are_a_server_error(servers, capsys):
    """Overriding the declared id range with one past the vocabulary makes the model refuse."""
    assert parity(servers, "ref", "twin", "text", "--range", "input_ids=0,5000", "--samples", "32") == 2
    err = capsys.readouterr().err
    assert ("ModelInfer of samples 0..15 failed: INVALID_ARGUMENT: input 'input_ids': value " in err
            and "is outside [0, 50) declared by model 'text'" in err)
