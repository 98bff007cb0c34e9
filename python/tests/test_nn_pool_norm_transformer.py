"""tessera.nn BatchNorm, Max/AvgPool1d/2d and TransformerEncoderLayer against NumPy references."""

import itertools

import numpy as np
import pytest

import tessera.core as mx
import tessera.nn as nn
from tessera.nn._tree import tree_flatten


def npf(a):
    return np.array(a, dtype=np.float64)


def np_pool(x, k, s, p, reduce):
    """x (N, *S, C) NumPy reference: loops over output positions and kernel taps."""
    d = x.ndim - 2
    fill = -np.inf if reduce == "max" else 0.0
    xp = np.pad(x, [(0, 0)] + [(pi, pi) for pi in p] + [(0, 0)], constant_values=fill)
    out_sp = [(xp.shape[a + 1] - k[a]) // s[a] + 1 for a in range(d)]
    out = np.zeros([x.shape[0]] + out_sp + [x.shape[-1]])
    for pos in itertools.product(*[range(o) for o in out_sp]):
        win = xp[(slice(None),) + tuple(slice(q * s[a], q * s[a] + k[a]) for a, q in enumerate(pos)) + (slice(None),)]
        win = win.reshape(x.shape[0], -1, x.shape[-1])
        out[(slice(None),) + pos + (slice(None),)] = win.max(1) if reduce == "max" else win.mean(1)
    return out


@pytest.mark.parametrize("cls,reduce", [(nn.MaxPool1d, "max"), (nn.AvgPool1d, "mean")])
@pytest.mark.parametrize("k,s,p", [(2, None, 0), (3, 2, 1), (3, 1, 0)])
def test_pool1d(cls, reduce, k, s, p):
    x = np.random.default_rng(0).standard_normal((2, 9, 3))
    got = cls(k, s, p)(mx.array(x.astype(np.float32)))
    want = np_pool(x, (k,), (s or k,), (p,), reduce)
    np.testing.assert_allclose(npf(got), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls,reduce", [(nn.MaxPool2d, "max"), (nn.AvgPool2d, "mean")])
@pytest.mark.parametrize("k,s,p", [(2, None, 0), ((3, 2), (2, 1), (1, 0)), (3, 2, 1)])
def test_pool2d(cls, reduce, k, s, p):
    x = np.random.default_rng(1).standard_normal((2, 7, 6, 4))
    kt = (k, k) if isinstance(k, int) else k
    st = kt if s is None else ((s, s) if isinstance(s, int) else s)
    pt = (p, p) if isinstance(p, int) else p
    got = cls(k, s, p)(mx.array(x.astype(np.float32)))
    np.testing.assert_allclose(npf(got), np_pool(x, kt, st, pt, reduce), rtol=1e-5, atol=1e-6)


def test_pool_gradient_routes_to_the_max():
    x = mx.array(np.array([[[1.0], [3.0], [2.0], [0.0]]], dtype=np.float32))
    g = mx.grad(lambda a: nn.MaxPool1d(2)(a).sum())(x)
    np.testing.assert_array_equal(npf(g).ravel(), [0, 1, 1, 0])


def test_pool_bad_arguments():
    with pytest.raises(ValueError, match=r"\[nn\]"):
        nn.MaxPool2d((2, 2, 2))
    with pytest.raises(ValueError, match=r"\[nn\]"):
        nn.AvgPool1d(2, padding=2)
    with pytest.raises(ValueError, match=r"\[nn\]"):
        nn.MaxPool1d(2)(mx.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"\[nn\]"):
        nn.MaxPool1d(5)(mx.zeros((1, 3, 2)))


def test_batchnorm_training_and_eval():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 5, 3)) * 2 + 1
    bn = nn.BatchNorm(3, momentum=0.25)
    assert set(bn.trainable_parameters().keys()) == {"weight", "bias"}
    assert set(bn.parameters().keys()) == {"weight", "bias", "running_mean", "running_var"}
    bn.weight = mx.array(np.array([1.0, 2.0, 0.5], dtype=np.float32))
    bn.bias = mx.array(np.array([0.0, -1.0, 3.0], dtype=np.float32))
    y = bn(mx.array(x.astype(np.float32)))
    m, v = x.mean((0, 1)), x.var((0, 1))
    want = (x - m) / np.sqrt(v + 1e-5) * np.array([1.0, 2.0, 0.5]) + np.array([0.0, -1.0, 3.0])
    np.testing.assert_allclose(npf(y), want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(npf(bn.running_mean), 0.25 * m, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(npf(bn.running_var), 0.75 + 0.25 * v, rtol=1e-5, atol=1e-6)
    bn.eval()
    x2 = rng.standard_normal((2, 3))
    want2 = (x2 - 0.25 * m) / np.sqrt(0.75 + 0.25 * v + 1e-5) * np.array([1.0, 2.0, 0.5]) + np.array([0.0, -1.0, 3.0])
    np.testing.assert_allclose(npf(bn(mx.array(x2.astype(np.float32)))), want2, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(npf(bn.running_mean), 0.25 * m, rtol=1e-5, atol=1e-6)  # eval: unchanged
    bn.unfreeze()
    assert "running_mean" not in bn.trainable_parameters()
    with pytest.raises(ValueError, match=r"\[nn\]"):
        bn(mx.zeros((2, 4)))


def test_batchnorm_without_running_stats_or_affine():
    x = np.random.default_rng(3).standard_normal((6, 2))
    bn = nn.BatchNorm(2, affine=False, track_running_stats=False)
    assert len(bn.parameters()) == 0
    bn.eval()  # no running stats: batch statistics in both modes
    want = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
    np.testing.assert_allclose(npf(bn(mx.array(x.astype(np.float32)))), want, rtol=1e-4, atol=1e-5)


def np_layer_norm(x, w, b, eps=1e-5):
    m = x.mean(-1, keepdims=True)
    return (x - m) / np.sqrt(x.var(-1, keepdims=True) + eps) * w + b


def np_encoder_layer(layer, x, mask, norm_first):
    p = {k: npf(v) for k, v in _flat(layer.parameters()).items()}
    h = layer.attention.num_heads

    def mha(q_in):
        b, L, d = q_in.shape
        q, k, v = (q_in @ p[f"attention.{n}.weight"].T for n in ("query_proj", "key_proj", "value_proj"))
        split = lambda t: t.reshape(b, L, h, -1).transpose(0, 2, 1, 3)
        q, k, v = split(q), split(k), split(v)
        s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(q.shape[-1]) + (0 if mask is None else mask)
        s = np.exp(s - s.max(-1, keepdims=True))
        o = (s / s.sum(-1, keepdims=True)) @ v
        return o.transpose(0, 2, 1, 3).reshape(b, L, d) @ p["attention.out_proj.weight"].T

    def mlp(t):
        hid = np.maximum(t @ p["linear1.weight"].T + p["linear1.bias"], 0)
        return hid @ p["linear2.weight"].T + p["linear2.bias"]

    ln1 = lambda t: np_layer_norm(t, p["ln1.weight"], p["ln1.bias"])
    ln2 = lambda t: np_layer_norm(t, p["ln2.weight"], p["ln2.bias"])
    if norm_first:
        x = x + mha(ln1(x))
        return x + mlp(ln2(x))
    x = ln1(x + mha(x))
    return ln2(x + mlp(x))


def _flat(tree, prefix=""):
    out = {}
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flat(v, key + "."))
        else:
            out[key] = v
    return out


@pytest.mark.parametrize("norm_first", [True, False])
@pytest.mark.parametrize("masked", [False, True])
def test_transformer_encoder_layer(norm_first, masked):
    mx.random.seed(4)
    layer = nn.TransformerEncoderLayer(8, 2, mlp_dims=12, norm_first=norm_first)
    x = np.random.default_rng(5).standard_normal((2, 5, 8))
    mask = np.triu(np.full((5, 5), -1e9), 1) if masked else None
    got = layer(mx.array(x.astype(np.float32)), None if mask is None else mx.array(mask.astype(np.float32)))
    np.testing.assert_allclose(npf(got), np_encoder_layer(layer, x, mask, norm_first), rtol=1e-4, atol=1e-4)
    assert npf(layer.linear1.weight).shape == (12, 8)


def test_transformer_encoder_stack_trains():
    mx.random.seed(6)
    enc = nn.TransformerEncoder(2, 8, 2)
    assert len(enc.layers) == 2 and npf(enc.layers[0].linear1.weight).shape == (32, 8)
    x = mx.array(np.random.default_rng(7).standard_normal((2, 4, 8)).astype(np.float32))
    loss_and_grad = nn.value_and_grad(enc, lambda m, a: (m(a) ** 2).mean())
    loss, grads = loss_and_grad(enc, x)
    assert np.isfinite(npf(loss))
    g = dict(tree_flatten(grads))
    assert npf(g["layers.1.attention.query_proj.weight"]).shape == (8, 8)
    assert np.abs(npf(g["layers.0.linear1.weight"])).sum() > 0
