"""tessera.nn layers (Python Modules over the C++ nn::functional bound as tessera.core._nn) against
references written with tessera.core ops for the same weights, their MLX parameter names, gradients
through the bound functions, and the bindings' errors."""

import math

import numpy as np
import pytest

import tessera.core as tx
import tessera.nn as nn
from tessera.core import _nn
from tessera.nn._tree import tree_flatten


def npf(a):
    return np.array(a, dtype=np.float64)


def names(m):
    return sorted(k for k, _ in tree_flatten(m.parameters()))


def rand(rng, *shape):
    return tx.array(rng.standard_normal(shape).astype(np.float32))


def test_parameter_names_are_mlx_names():
    assert names(nn.Linear(3, 4)) == ["bias", "weight"]
    assert names(nn.Linear(3, 4, bias=False)) == ["weight"]
    assert names(nn.Embedding(5, 3)) == ["weight"]
    assert names(nn.GroupNorm(2, 4)) == ["bias", "weight"]
    assert names(nn.BatchNorm(3)) == ["bias", "running_mean", "running_var", "weight"]
    assert names(nn.Conv1d(2, 4, 3)) == ["bias", "weight"]
    assert names(nn.Conv2d(2, 4, 3, bias=False)) == ["weight"]
    assert names(nn.MaxPool2d(2)) == []
    assert names(nn.MultiHeadAttention(8, 2, bias=True)) == sorted(
        f"{p}_proj.{w}" for p in ("query", "key", "value", "out") for w in ("weight", "bias"))
    layer = nn.TransformerEncoderLayer(8, 2, mlp_dims=16)
    assert names(layer) == sorted(
        [f"attention.{p}_proj.weight" for p in ("query", "key", "value", "out")]
        + [f"{n}.{w}" for n in ("ln1", "ln2", "linear1", "linear2") for w in ("weight", "bias")])
    assert names(nn.QuantizedLinear(64, 8, group_size=32)) == ["bias", "biases", "scales", "weight"]
    assert names(nn.QuantizedEmbedding(8, 64, group_size=32)) == ["biases", "scales", "weight"]


def test_linear_embedding_dropout_against_core_ops(rng):
    lin = nn.Linear(5, 3)
    x = rand(rng, 2, 4, 5)
    np.testing.assert_allclose(npf(lin(x)), npf(x @ lin.weight.T + lin.bias), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(npf(nn.Linear(5, 3, bias=False)(x)).shape, (2, 4, 3))
    emb = nn.Embedding(7, 4)
    idx = tx.array([[6, 0], [3, 3]])
    np.testing.assert_array_equal(npf(emb(idx)), npf(emb.weight)[np.array([[6, 0], [3, 3]])])
    np.testing.assert_allclose(npf(emb.as_linear(rand(rng, 2, 4))).shape, (2, 7))
    with pytest.raises(ValueError, match=r"\[nn\] embedding"):
        emb(tx.array([1.5]))
    key = tx.random.key(3)
    a, b = _nn.dropout(tx.ones((2000,)), 0.5, key), _nn.dropout(tx.ones((2000,)), 0.5, key)
    np.testing.assert_array_equal(npf(a), npf(b))
    assert set(np.unique(npf(a))) == {0.0, 2.0}
    with pytest.raises(ValueError, match=r"\[nn\] dropout"):
        _nn.dropout(tx.ones((3,)), 1.0)


@pytest.mark.parametrize("torch_groups", [False, True])
def test_group_norm_against_core_ops(rng, torch_groups):
    gn = nn.GroupNorm(3, 6, pytorch_compatible=torch_groups)
    gn.weight, gn.bias = rand(rng, 6), rand(rng, 6)
    x = rand(rng, 2, 4, 6)
    # Channel c in group c % 3 (MLX) or c // 2 (PyTorch); statistics over positions and the group's channels.
    g = x.reshape(2, 4, 2, 3) if not torch_groups else tx.transpose(x.reshape(2, 4, 3, 2), (0, 1, 3, 2))
    mean = tx.mean(g, axis=(1, 2), keepdims=True)
    var = tx.var(g, axis=(1, 2), keepdims=True)
    y = (g - mean) * tx.rsqrt(var + 1e-5)
    y = y.reshape(2, 4, 6) if not torch_groups else tx.transpose(y, (0, 1, 3, 2)).reshape(2, 4, 6)
    np.testing.assert_allclose(npf(gn(x)), npf(gn.weight * y + gn.bias), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match=r"\[nn\] group_norm"):
        nn.GroupNorm(4, 6)(x)


def test_batch_norm_binding_returns_running_statistics(rng):
    x = rand(rng, 8, 3) * 2 + 1
    rm, rv = tx.zeros((3,)), tx.ones((3,))
    y, m2, v2 = _nn.batch_norm(x, None, None, rm, rv, True, 0.5)
    mean, var = tx.mean(x, axis=0), tx.var(x, axis=0)
    np.testing.assert_allclose(npf(y), npf((x - mean) * tx.rsqrt(var + 1e-5)), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(npf(m2), npf(0.5 * mean), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(npf(v2), npf(0.5 + 0.5 * var), rtol=1e-5, atol=1e-6)
    y_eval, none_m, none_v = _nn.batch_norm(x, None, None, rm, rv, False)
    assert none_m is None and none_v is None
    np.testing.assert_allclose(npf(y_eval), npf(x * (1 / math.sqrt(1 + 1e-5))), rtol=1e-5, atol=1e-6)


def test_conv_layers_against_core_ops(rng):
    c1 = nn.Conv1d(4, 6, 3, stride=2, padding=1, groups=2)
    c1.bias = rand(rng, 6)
    x = rand(rng, 2, 9, 4)
    np.testing.assert_allclose(npf(c1(x)), npf(tx.conv1d(x, c1.weight, 2, 1, 1, 2) + c1.bias), rtol=1e-5, atol=1e-5)
    c2 = nn.Conv2d(3, 4, (2, 3), stride=(2, 1), padding=(1, 0), dilation=(1, 2))
    c2.bias = rand(rng, 4)
    x2 = rand(rng, 1, 6, 8, 3)
    want = tx.conv2d(x2, c2.weight, (2, 1), (1, 0), (1, 2), 1) + c2.bias
    np.testing.assert_allclose(npf(c2(x2)), npf(want), rtol=1e-5, atol=1e-5)


def test_pooling_strides_and_errors():
    assert nn.MaxPool2d((3, 2), padding=(1, 0)).stride == (3, 2)
    assert nn.AvgPool1d(3, stride=1).stride == (1,)
    x = tx.array(np.array([1, 5, -2, 3, 0], np.float32).reshape(1, 5, 1))
    np.testing.assert_array_equal(npf(nn.MaxPool1d(3, 2, 1)(x)).ravel(), [5, 5, 3])
    np.testing.assert_allclose(npf(nn.AvgPool1d(2)(x)).ravel(), [3, 0.5])
    with pytest.raises(ValueError, match=r"\[nn\] MaxPool1d"):
        nn.MaxPool1d(2, padding=2)


def test_attention_against_core_ops(rng):
    mha = nn.MultiHeadAttention(8, 2, bias=True)
    q, kv = rand(rng, 2, 3, 8), rand(rng, 2, 5, 8)
    mask = tx.array(np.triu(np.full((3, 5), -1e9, np.float32), 3))

    def heads(t):
        return t.reshape(t.shape[0], t.shape[1], 2, 4).transpose(0, 2, 1, 3)

    qq, kk, vv = heads(mha.query_proj(q)), heads(mha.key_proj(kv)), heads(mha.value_proj(kv))
    p = tx.softmax(qq @ kk.transpose(0, 1, 3, 2) / 2.0 + mask, axis=-1)
    want = mha.out_proj((p @ vv).transpose(0, 2, 1, 3).reshape(2, 3, 8))
    np.testing.assert_allclose(npf(mha(q, kv, kv, mask)), npf(want), rtol=1e-4, atol=1e-5)
    # The bound function from the weights gives the same.
    w = dict(tree_flatten(mha.parameters()))
    full = _nn.multi_head_attention(q, kv, kv, 2, w["query_proj.weight"], w["key_proj.weight"],
                                    w["value_proj.weight"], w["out_proj.weight"], w["query_proj.bias"],
                                    w["key_proj.bias"], w["value_proj.bias"], w["out_proj.bias"], mask)
    np.testing.assert_allclose(npf(full), npf(want), rtol=1e-4, atol=1e-5)
    # "causal" and the additive causal mask agree (square self-attention).
    c = nn.MultiHeadAttention.create_additive_causal_mask(3)
    assert npf(c)[0, 1] < -1e38 and npf(c)[1, 0] == 0
    np.testing.assert_allclose(npf(mha(q, q, q, "causal")), npf(mha(q, q, q, c)), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"\[nn\] attention"):
        _nn.attention_heads(q, q, q, 3)


@pytest.mark.parametrize("norm_first", [True, False])
def test_transformer_layer_against_core_ops(rng, norm_first):
    layer = nn.TransformerEncoderLayer(8, 2, mlp_dims=12, activation=nn.gelu, norm_first=norm_first)
    for ln in (layer.ln1, layer.ln2):
        ln.weight, ln.bias = rand(rng, 8), rand(rng, 8)
    x = rand(rng, 2, 4, 8)
    mask = nn.MultiHeadAttention.create_additive_causal_mask(4)

    def mlp(h):
        return layer.linear2(nn.gelu(layer.linear1(h)))

    def attn(h):
        return layer.attention(h, h, h, mask)

    if norm_first:
        h = x + attn(layer.ln1(x))
        want = h + mlp(layer.ln2(h))
    else:
        h = layer.ln1(x + attn(x))
        want = layer.ln2(h + mlp(h))
    np.testing.assert_allclose(npf(layer(x, mask)), npf(want), rtol=1e-4, atol=1e-5)
    enc = nn.TransformerEncoder(2, 8, 2, mlp_dims=12)
    assert npf(enc(x)).shape == (2, 4, 8)


def test_quantized_layers_against_core_ops(rng):
    ql = nn.QuantizedLinear(64, 6, group_size=32, bits=4)
    ql.bias = rand(rng, 6)
    x = rand(rng, 3, 64)
    w = tx.dequantize(ql.weight, ql.scales, ql.biases, 32, 4)
    np.testing.assert_allclose(npf(ql(x)), npf(x @ w.T + ql.bias), rtol=1e-4, atol=1e-4)
    qe = nn.QuantizedEmbedding(10, 64, group_size=32, bits=8)
    table = tx.dequantize(qe.weight, qe.scales, qe.biases, 32, 8)
    np.testing.assert_allclose(npf(qe(tx.array([9, 2]))), npf(table)[[9, 2]], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(npf(qe.as_linear(x)), npf(x @ table.T), rtol=1e-4, atol=1e-4)


def test_gradients_flow_through_the_bound_functions(rng):
    model = nn.Sequential(nn.Conv1d(3, 4, 3, padding=1), nn.GroupNorm(2, 4), nn.MaxPool1d(2), nn.Linear(4, 2))
    x = rand(rng, 2, 6, 3)

    def loss(m):
        return (m(x) ** 2).sum()

    value, grads = nn.value_and_grad(model, lambda: loss(model))()
    flat = dict(tree_flatten(grads))
    assert set(flat) == set(dict(tree_flatten(model.trainable_parameters())))
    # One entry of the conv weight against a central difference in float32 (loose, a smoke check).
    w = np.array(model.layers[0].weight)
    eps = 1e-2
    vals = []
    for s in (1, -1):
        w2 = w.copy()
        w2[1, 2, 0] += s * eps
        model.layers[0].weight = tx.array(w2)
        vals.append(float(loss(model)))
    model.layers[0].weight = tx.array(w)
    fd = (vals[0] - vals[1]) / (2 * eps)
    assert abs(float(npf(flat["layers.0.weight"])[1, 2, 0]) - fd) <= 2e-2 * (1 + abs(fd))
    assert float(value) > 0
