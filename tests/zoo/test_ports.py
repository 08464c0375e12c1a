"""Each whole-model port, in-process, against the PyTorch model it came from: within the model's
tolerance on real inputs, and demonstrably failing when the port is wrong."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from zoo.diffs import compare, within
from zoo.specs import MODELS
from zoo.tf_export import keras_twin, predict

HEADROOM = 0.2  # a correct port uses at most this fraction of the tolerance (the docs claim >= 30x)


def run_torch(module, inputs):
    with torch.inference_mode():
        out = module(*(torch.from_numpy(a) for a in inputs.values()))
    return out if isinstance(out, tuple) else (out,)


@pytest.mark.parametrize("name", list(MODELS))
def test_port_matches_source_within_tolerance(name, source, twin):
    src = source(name)
    diffs = compare(predict(twin(name), src.spec, src.inputs), src.reference, src.spec.tolerance)
    for output, diff in diffs.items():
        assert diff["tolerance_used"] <= HEADROOM, f"{name}.{output}: {diff}"


@pytest.mark.parametrize("name,key,index", [
    ("digits-mlp", "hidden.0.weight", (5, 20)),
    ("resnet18", "layer1.0.conv1.weight", (3, 7, 1, 1)),
    ("resnet18", "layer3.1.bn2.running_var", (11,)),
    ("text-encoder", "encoder.layer.0.attention.self.key.weight", (17, 3)),
    ("text-encoder", "encoder.layer.1.output.LayerNorm.bias", (40,)),
])
def test_one_perturbed_weight_fails(name, key, index, source):
    """The comparison can fail: one tensor element off by 5% of its magnitude (at least 0.05)."""
    src = source(name)
    state = dict(src.state)
    state[key] = state[key].copy()
    state[key][index] += max(0.05, 0.05 * abs(float(state[key][index])))
    diffs = compare(predict(keras_twin(src.spec, state), src.spec, src.inputs), src.reference, src.spec.tolerance)
    assert not within(diffs), diffs


def test_digits_classifier_accuracy_and_agreement(source, twin):
    src = source("digits-mlp")
    theirs = src.reference["logits"].argmax(-1)
    ours = predict(twin("digits-mlp"), src.spec, src.inputs)["logits"].argmax(-1)
    assert len(src.labels) == 360
    assert (theirs == src.labels).mean() >= 0.95
    assert (ours == src.labels).mean() >= 0.95
    assert (ours == theirs).all()


def test_resnet_batchnorm_statistics_are_non_trivial(source):
    norms = [m for m in source("resnet18").module.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(norms) == 20
    for bn in norms:
        bn = copy.deepcopy(bn).requires_grad_(False)
        assert not bn.training
        assert float(bn.running_mean.abs().max()) > 0.05
        assert float((bn.running_var - 1).abs().max()) > 0.05
        assert float((bn.weight - 1).abs().max()) > 0.05


def test_resnet_takes_nchw_any_batch(source, twin):
    src = source("resnet18")
    single = {"pixel_values": src.inputs["pixel_values"][3:4]}
    out = predict(twin("resnet18"), src.spec, single)["logits"]
    assert out.shape == (1, 1000)
    np.testing.assert_allclose(out, src.reference["logits"][3:4], atol=src.spec.tolerance.atol,
                               rtol=src.spec.tolerance.rtol)


@pytest.mark.filterwarnings("ignore:You are using a softmax over axis -1:UserWarning")  # length 1: Keras' hint
@pytest.mark.parametrize("batch,length", [(1, 1), (3, 2), (2, 128)])
def test_text_encoder_variable_batch_and_length(batch, length, source, twin):
    src = source("text-encoder")
    rng = np.random.default_rng(length)
    ids = rng.integers(0, 1000, (batch, length)).astype(np.int64)
    mask = (np.arange(length)[None, :] < rng.integers(1, length + 1, (batch, 1))).astype(np.int64)
    inputs = {"input_ids": ids, "attention_mask": mask}
    expected = dict(zip(["last_hidden_state", "pooler_output"], (t.numpy() for t in run_torch(src.module, inputs))))
    diffs = compare(predict(twin("text-encoder"), src.spec, inputs), expected, src.spec.tolerance)
    assert within(diffs), diffs
    assert expected["last_hidden_state"].shape == (batch, length, 128)


def test_text_encoder_masking_is_the_same_on_both_sides(source, twin):
    """Padded tokens do not reach real ones; a fully masked row attends uniformly on both sides."""
    src = source("text-encoder")
    ids = src.inputs["input_ids"][:4].copy()
    mask = src.inputs["attention_mask"][:4].copy()
    mask[3] = 0  # fully masked row
    other = ids.copy()
    other[mask == 0] = 777  # change only padded positions
    torch_a, torch_b = run_torch(src.module, {"i": ids, "m": mask}), run_torch(src.module, {"i": other, "m": mask})
    keras_a = predict(twin("text-encoder"), src.spec, {"input_ids": ids, "attention_mask": mask})
    real = mask[:3] == 1
    np.testing.assert_array_equal(torch_a[0].numpy()[:3][real], torch_b[0].numpy()[:3][real])
    expected = {"last_hidden_state": torch_a[0].numpy(), "pooler_output": torch_a[1].numpy()}
    assert within(compare(keras_a, expected, src.spec.tolerance))


def test_text_encoder_exact_gelu_matters(source, twin):
    """A tanh-approximated GELU on one side is outside the tolerance, so 'exact GELU' is checked."""
    src = source("text-encoder")
    tanh_gelu = copy.deepcopy(src.module)
    for layer in tanh_gelu.encoder.layer:
        layer.intermediate.approximate = "tanh"
    expected = dict(zip(["last_hidden_state", "pooler_output"], (t.numpy() for t in run_torch(tanh_gelu, src.inputs))))
    assert not within(compare(predict(twin("text-encoder"), src.spec, src.inputs), expected, src.spec.tolerance))


def test_text_encoder_layer_norm_epsilon_matters(source, twin):
    """With Keras' default LayerNorm epsilon (1e-3) on one side the outputs leave the tolerance."""
    src = source("text-encoder")
    loose = copy.deepcopy(src.module)
    for module in loose.modules():
        if isinstance(module, torch.nn.LayerNorm):
            module.eps = 1e-3
    expected = dict(zip(["last_hidden_state", "pooler_output"], (t.numpy() for t in run_torch(loose, src.inputs))))
    assert not within(compare(predict(twin("text-encoder"), src.spec, src.inputs), expected, src.spec.tolerance))


@pytest.mark.parametrize("name,torch_kind,keras_kind,attr,value", [
    ("text-encoder", torch.nn.LayerNorm, "LayerNormalization", "epsilon", 1e-12),
    ("resnet18", torch.nn.BatchNorm2d, "BatchNormalization", "epsilon", 1e-5),
])
def test_normalisation_epsilons_are_explicit_and_equal(name, torch_kind, keras_kind, attr, value, source, twin):
    """Parity cannot see PyTorch's LayerNorm default (1e-5) against BERT's 1e-12 (2e-5 apart, inside
    the tolerance), so both sides' epsilons are checked by construction."""
    torch_eps = {m.eps for m in source(name).module.modules() if isinstance(m, torch_kind)}
    keras_eps = {getattr(layer, attr) for layer in twin(name).layers if type(layer).__name__ == keras_kind}
    assert torch_eps == keras_eps == {value}
