"""Each porting rule on a single layer, PyTorch vs Keras in-process, and the porter's refusals."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch

from zoo.keras_models.layers import Standardize
from zoo.port import PortError, plan, port

RNG = np.random.default_rng(7)


def state_of(module: torch.nn.Module, prefix: str) -> dict[str, np.ndarray]:
    return {f"{prefix}.{k}": v.detach().numpy().copy() for k, v in module.state_dict().items()}


def keras_model(input_shape, *layers, dtype="float32"):
    x = inp = keras.Input(input_shape, dtype=dtype)
    for layer in layers:
        x = layer(x)
    return keras.Model(inp, x)


def torch_out(module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return module.eval()(torch.from_numpy(x)).numpy()


def nchw_to_nhwc(x):
    return x.transpose(0, 2, 3, 1)


def test_linear_to_dense_transposes_the_weight():
    linear = torch.nn.Linear(5, 3)
    model = keras_model((5,), keras.layers.Dense(3, name="fc"))
    port(state_of(linear, "fc"), model)
    x = RNG.standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_allclose(model(x).numpy(), torch_out(linear, x), atol=1e-6)
    np.testing.assert_array_equal(model.get_layer("fc").kernel.numpy(), linear.weight.detach().numpy().T)


@pytest.mark.parametrize("kernel,stride,pad", [(3, 2, 1), (7, 2, 3), (1, 2, 0), (3, 1, 1)])
def test_conv_oihw_to_hwio_with_explicit_padding(kernel, stride, pad):
    conv = torch.nn.Conv2d(3, 4, kernel, stride=stride, padding=pad, bias=True)
    layers = [keras.layers.ZeroPadding2D(pad)] if pad else []
    model = keras_model((16, 16, 3), *layers, keras.layers.Conv2D(4, kernel, strides=stride, name="conv"))
    port(state_of(conv, "conv"), model)
    x = RNG.standard_normal((2, 3, 16, 16)).astype(np.float32)
    np.testing.assert_allclose(model(nchw_to_nhwc(x)).numpy(), nchw_to_nhwc(torch_out(conv, x)), atol=1e-5)


def test_keras_same_padding_is_not_torch_padding_for_stride_2():
    """Why the twin pads explicitly: 'same' pads a stride-2 layer on the bottom/right only."""
    conv = torch.nn.Conv2d(3, 4, 3, stride=2, padding=1, bias=False)
    model = keras_model((16, 16, 3), keras.layers.Conv2D(4, 3, strides=2, padding="same", use_bias=False,
                                                         name="conv"))
    port(state_of(conv, "conv"), model)
    x = RNG.standard_normal((2, 3, 16, 16)).astype(np.float32)
    ours, theirs = model(nchw_to_nhwc(x)).numpy(), nchw_to_nhwc(torch_out(conv, x))
    assert ours.shape == theirs.shape
    gap = float(np.abs(ours - theirs).max())
    assert gap > 0.1


def _batchnorm() -> torch.nn.BatchNorm2d:
    bn = torch.nn.BatchNorm2d(6, eps=1e-5)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.normal_(0, 0.5)
        bn.running_mean.normal_(0, 1)
        bn.running_var.uniform_(0.5, 2.0)
        bn.running_var[0] = 1e-4  # a near-constant channel, where epsilon matters
    return bn


def test_batchnorm_ports_statistics_for_inference():
    bn = _batchnorm()
    model = keras_model((5, 5, 6), keras.layers.BatchNormalization(epsilon=1e-5, name="bn"))
    port(state_of(bn, "bn"), model)
    x = RNG.standard_normal((2, 6, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(model(nchw_to_nhwc(x), training=False).numpy(), nchw_to_nhwc(torch_out(bn, x)),
                               rtol=1e-5, atol=1e-5)
    assert model.get_layer("bn").moving_variance.numpy() == pytest.approx(bn.running_var.numpy())


def test_batchnorm_with_keras_default_epsilon_differs():
    bn = _batchnorm()
    model = keras_model((5, 5, 6), keras.layers.BatchNormalization(name="bn"))  # epsilon 1e-3
    port(state_of(bn, "bn"), model)
    x = RNG.standard_normal((2, 6, 5, 5)).astype(np.float32)
    gap = float(np.abs(model(nchw_to_nhwc(x), training=False).numpy() - nchw_to_nhwc(torch_out(bn, x))).max())
    assert gap > 0.1


def test_layernorm_with_explicit_epsilon():
    norm = torch.nn.LayerNorm(16, eps=1e-12)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.normal_(0, 0.1)
    model = keras_model((7, 16), keras.layers.LayerNormalization(epsilon=1e-12, name="ln"))
    port(state_of(norm, "ln"), model)
    x = RNG.standard_normal((2, 7, 16)).astype(np.float32)
    np.testing.assert_allclose(model(x).numpy(), torch_out(norm, x), atol=2e-6)


def test_embedding_and_standardize():
    emb = torch.nn.Embedding(20, 4)
    model = keras_model((3,), keras.layers.Embedding(20, 4, name="emb"), dtype="int64")
    port(state_of(emb, "emb"), model)
    ids = RNG.integers(0, 20, (2, 3))
    np.testing.assert_array_equal(model(ids).numpy(), torch_out(emb, ids))

    mean, std = RNG.standard_normal(4).astype(np.float32), RNG.uniform(1, 2, 4).astype(np.float32)
    model = keras_model((4,), Standardize(name="norm"))
    port({"norm.mean": mean, "norm.std": std}, model)
    x = RNG.standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_array_equal(model(x).numpy(), (x - mean) / std)


def test_attention_projections_split_per_head():
    """q/k/v Linear [heads*head_dim, hidden] -> EinsumDense [hidden, heads, head_dim], matching the
    PyTorch model's view(B, T, heads, head_dim); the output Linear -> [heads, head_dim, hidden]."""
    hidden, heads = 8, 2
    query, output = torch.nn.Linear(hidden, hidden), torch.nn.Linear(hidden, hidden)
    q_model = keras_model((5, hidden), keras.layers.EinsumDense("btd,dnh->btnh", (None, heads, hidden // heads),
                                                                bias_axes="nh", name="q"))
    o_model = keras_model((5, heads, hidden // heads), keras.layers.EinsumDense("btnh,nhd->btd", (None, hidden),
                                                                                bias_axes="d", name="o"))
    port(state_of(query, "q"), q_model)
    port(state_of(output, "o"), o_model)
    x = RNG.standard_normal((2, 5, hidden)).astype(np.float32)
    expected = torch_out(query, x).reshape(2, 5, heads, hidden // heads)
    np.testing.assert_allclose(q_model(x).numpy(), expected, atol=1e-6)
    np.testing.assert_allclose(o_model(expected).numpy(), torch_out(output, expected.reshape(2, 5, hidden)),
                               atol=1e-5)


def test_missing_tensor_is_refused():
    model = keras_model((5,), keras.layers.Dense(3, name="fc"))
    with pytest.raises(PortError, match="layer 'fc' \\(Dense\\): the PyTorch state dict has no 'fc.bias'"):
        plan({"fc.weight": np.zeros((3, 5), np.float32)}, model)


def test_unused_tensor_is_refused():
    model = keras_model((5,), keras.layers.Dense(3, name="fc"))
    state = state_of(torch.nn.Linear(5, 3), "fc") | {"extra.weight": np.zeros(3, np.float32)}
    with pytest.raises(PortError, match="no Keras layer of the same name: extra.weight"):
        plan(state, model)


def test_shape_mismatch_names_layer_and_shapes():
    model = keras_model((6, 6, 3), keras.layers.Conv2D(4, 3, name="conv"))
    state = state_of(torch.nn.Conv2d(3, 4, 5), "conv")
    with pytest.raises(PortError, match=r"layer 'conv' \(Conv2D\) kernel: .* \(5, 5, 3, 4\), Keras expects "
                                        r"\(3, 3, 3, 4\)"):
        plan(state, model)
    model = keras_model((5,), keras.layers.Dense(3, name="fc"))
    with pytest.raises(PortError, match="does not map onto kernel"):
        plan(state_of(torch.nn.Linear(4, 3), "fc"), model)


def test_layer_without_rule_is_refused():
    model = keras_model((6, 3), keras.layers.Conv1D(4, 3, name="conv1d"))
    with pytest.raises(PortError, match="no porting rule for Keras Conv1D"):
        plan({}, model)
