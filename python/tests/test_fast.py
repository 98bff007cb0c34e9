"""tessera.core.fast against NumPy references: rms_norm, layer_norm, rope, attention."""

import numpy as np

import tessera.core as tx


def test_norms(rng):
    x = rng.standard_normal((2, 3, 8)).astype(np.float32)
    w = rng.standard_normal((8,)).astype(np.float32)
    b = rng.standard_normal((8,)).astype(np.float32)
    rms = x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-5) * w
    np.testing.assert_allclose(np.array(tx.fast.rms_norm(tx.array(x), tx.array(w), 1e-5)), rms, rtol=1e-4, atol=1e-5)
    ln = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(np.array(tx.fast.layer_norm(tx.array(x), tx.array(w), tx.array(b), 1e-5)), ln * w + b,
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.array(tx.fast.layer_norm(tx.array(x), None, None, 1e-5)), ln, rtol=1e-4, atol=1e-5)


def rope_ref(x, dims, base, offset, traditional):
    L = x.shape[-2]
    pos = np.arange(offset, offset + L)[:, None]
    inv = base ** (-np.arange(0, dims, 2) / dims)
    th = pos * inv
    c, s = np.cos(th), np.sin(th)
    out = x.copy()
    if traditional:
        x1, x2 = x[..., 0:dims:2], x[..., 1:dims:2]
        out[..., 0:dims:2] = x1 * c - x2 * s
        out[..., 1:dims:2] = x1 * s + x2 * c
    else:
        h = dims // 2
        x1, x2 = x[..., :h], x[..., h:dims]
        out[..., :h] = x1 * c - x2 * s
        out[..., h:dims] = x1 * s + x2 * c
    return out


def test_rope(rng):
    x = rng.standard_normal((1, 2, 5, 8)).astype(np.float32)
    for trad in (False, True):
        got = tx.fast.rope(tx.array(x), 8, traditional=trad, base=10000.0, scale=1.0, offset=3)
        np.testing.assert_allclose(np.array(got), rope_ref(x, 8, 10000.0, 3, trad), rtol=1e-4, atol=1e-4)
    got = tx.fast.rope(tx.array(x), 4, traditional=False, base=10000.0, scale=1.0, offset=tx.array(3))
    np.testing.assert_allclose(np.array(got), rope_ref(x, 4, 10000.0, 3, False), rtol=1e-4, atol=1e-4)


def test_attention(rng):
    q = rng.standard_normal((1, 4, 3, 8)).astype(np.float32)
    k = rng.standard_normal((1, 2, 5, 8)).astype(np.float32)
    v = rng.standard_normal((1, 2, 5, 8)).astype(np.float32)
    kk, vv = np.repeat(k, 2, 1), np.repeat(v, 2, 1)
    s = q @ kk.transpose(0, 1, 3, 2) * 0.3

    def soft(z):
        e = np.exp(z - z.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    got = tx.fast.scaled_dot_product_attention(tx.array(q), tx.array(k), tx.array(v), scale=0.3)
    np.testing.assert_allclose(np.array(got), soft(s) @ vv, rtol=1e-4, atol=1e-5)
    causal = np.arange(3)[:, None] + 2 >= np.arange(5)[None]
    got = tx.fast.scaled_dot_product_attention(tx.array(q), tx.array(k), tx.array(v), scale=0.3, mask="causal")
    np.testing.assert_allclose(np.array(got), soft(np.where(causal, s, -np.inf)) @ vv, rtol=1e-4, atol=1e-5)
    got = tx.fast.scaled_dot_product_attention(tx.array(q), tx.array(k), tx.array(v), scale=0.3, mask=tx.array(causal))
    np.testing.assert_allclose(np.array(got), soft(np.where(causal, s, -np.inf)) @ vv, rtol=1e-4, atol=1e-5)
