"""tessera.nn: Module semantics as MLX's, layers/activations/losses against NumPy, value_and_grad, training."""

import math

import numpy as np
import pytest

import tessera.core as mx
import tessera.nn as nn
import tessera.optimizers as optim
from tessera.nn._tree import tree_flatten


def npf(a):
    return np.array(a, dtype=np.float64)


class MLP(nn.Module):
    def __init__(self, num_layers, input_dim, hidden_dim, output_dim):
        super().__init__()
        sizes = [input_dim] + [hidden_dim] * num_layers + [output_dim]
        self.layers = [nn.Linear(i, o) for i, o in zip(sizes[:-1], sizes[1:])]
        self.scale = 2.0  # not a parameter

    def __call__(self, x):
        for l in self.layers[:-1]:
            x = mx.maximum(l(x), 0.0)
        return self.layers[-1](x)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = nn.RMSNorm(4)
        self.heads = {"a": nn.Linear(4, 4, bias=False), "b": nn.Linear(4, 2)}
        self._private = mx.zeros((3,))


def keys(tree):
    return [k for k, _ in tree_flatten(tree)]


def test_parameter_names_follow_mlx():
    m = MLP(2, 3, 8, 2)
    assert keys(m.parameters()) == [f"layers.{i}.{n}" for i in range(3) for n in ("weight", "bias")]
    assert m.parameters()["layers"][1]["weight"].shape == (8, 8)
    assert "scale" not in m and m.scale == 2.0
    b = Block()
    assert keys(b.parameters()) == ["norm.weight", "heads.a.weight", "heads.b.weight", "heads.b.bias"]
    assert [k for k, _ in b.named_modules()][0] == ""
    assert sorted(k for k, _ in b.named_modules()) == ["", "heads.a", "heads.b", "norm"]
    assert len(b.modules()) == 4
    kids = tree_flatten(b.children(), is_leaf=lambda v: isinstance(v, nn.Module))
    assert [k for k, _ in kids] == ["norm", "heads.a", "heads.b"]
    assert isinstance(b.leaf_modules()["heads"]["a"], nn.Linear)
    assert b.norm is b["norm"]
    with pytest.raises(AttributeError):
        b.missing


def test_freeze_unfreeze():
    m = MLP(1, 3, 4, 2)
    m.freeze()
    assert keys(m.trainable_parameters()) == []
    m.unfreeze()
    assert len(keys(m.trainable_parameters())) == 4
    m.layers[0].freeze(keys="bias")
    assert keys(m.trainable_parameters()) == ["layers.0.weight", "layers.1.weight", "layers.1.bias"]
    m.freeze(recurse=False)  # the root holds no arrays directly: nothing changes
    assert len(keys(m.trainable_parameters())) == 3
    m.unfreeze(keys=["bias"])
    assert len(keys(m.trainable_parameters())) == 4
    with pytest.raises(KeyError):
        m.layers[0].freeze(keys="nope", strict=True)
    assert len(keys(m.parameters())) == 4


def test_update_apply_and_modes():
    m = MLP(1, 3, 4, 2)
    w = mx.ones((4, 3))
    m.update({"layers": [{"weight": w}]})
    assert m.layers[0].weight is w
    with pytest.raises(ValueError):
        m.update({"layers": [{"nope": w}]})
    with pytest.raises(ValueError):
        m.update({"layers": [{"weight": mx.ones((2, 2))}]})
    m.apply(lambda a: a * 0)
    assert all(float(mx.sum(mx.abs(v))) == 0 for _, v in tree_flatten(m.parameters()))
    assert m.training and m.layers[0].training
    m.eval()
    assert not m.training and not m.layers[1].training
    m.train()
    assert m.layers[1].training
    m.set_dtype(mx.float16)
    assert m.layers[0].weight.dtype == mx.float16


@pytest.mark.parametrize("ext", ["safetensors", "npz"])
def test_save_load_weights_round_trip(tmp_path, ext):
    a, b = MLP(2, 3, 5, 2), MLP(2, 3, 5, 2)
    path = str(tmp_path / f"w.{ext}")
    a.save_weights(path)
    b.load_weights(path)
    for (ka, va), (kb, vb) in zip(tree_flatten(a.parameters()), tree_flatten(b.parameters())):
        assert ka == kb
        np.testing.assert_array_equal(np.array(va), np.array(vb))
    x = mx.random.normal((4, 3))
    np.testing.assert_allclose(np.array(a(x)), np.array(b(x)), rtol=1e-6)
    small = MLP(1, 3, 5, 2)
    with pytest.raises(ValueError):
        small.load_weights(path)  # extra layer
    small.load_weights([("layers.0.weight", mx.zeros((5, 3)))], strict=False)
    assert float(mx.sum(small.layers[0].weight)) == 0
    with pytest.raises(ValueError):
        small.load_weights([("layers.0.weight", mx.zeros((2, 3)))])
    with pytest.raises(ValueError):
        a.save_weights(str(tmp_path / "w.txt"))


def test_linear_embedding_sequential(rng):
    lin = nn.Linear(3, 4)
    x = rng.standard_normal((2, 3)).astype(np.float32)
    ref = x @ npf(lin.weight).T + npf(lin.bias)
    np.testing.assert_allclose(np.array(lin(mx.array(x))), ref, rtol=1e-5, atol=1e-6)
    scale = math.sqrt(1 / 3)
    assert np.abs(np.array(lin.weight)).max() <= scale
    nb = nn.Linear(3, 4, bias=False)
    assert keys(nb.parameters()) == ["weight"]
    emb = nn.Embedding(10, 4)
    idx = np.array([[1, 9], [0, 1]], dtype=np.int32)
    np.testing.assert_array_equal(np.array(emb(mx.array(idx))), np.array(emb.weight)[idx])
    h = rng.standard_normal((2, 4)).astype(np.float32)
    np.testing.assert_allclose(np.array(emb.as_linear(mx.array(h))), h @ np.array(emb.weight).T, rtol=1e-5, atol=1e-6)
    seq = nn.Sequential(lin, nn.ReLU(), nn.Linear(4, 2))
    assert keys(seq.parameters())[:2] == ["layers.0.weight", "layers.0.bias"]
    expect = np.maximum(ref, 0) @ npf(seq.layers[2].weight).T + npf(seq.layers[2].bias)
    np.testing.assert_allclose(np.array(seq(mx.array(x))), expect, rtol=1e-5, atol=1e-6)


def test_norms(rng):
    x = rng.standard_normal((2, 5, 6)).astype(np.float32)
    rms = nn.RMSNorm(6, eps=1e-5)
    rms.weight = mx.array(rng.standard_normal(6).astype(np.float32))
    ref = x / np.sqrt((x**2).mean(-1, keepdims=True) + 1e-5) * np.array(rms.weight)
    np.testing.assert_allclose(np.array(rms(mx.array(x))), ref, rtol=1e-4, atol=1e-5)
    ln = nn.LayerNorm(6)
    ln.bias = mx.full((6,), 0.5)
    ref = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) + 0.5
    np.testing.assert_allclose(np.array(ln(mx.array(x))), ref, rtol=1e-4, atol=1e-5)
    assert keys(nn.LayerNorm(6, affine=False).parameters()) == []
    # MLX groups channel c into group c % num_groups; pytorch_compatible into c // (dims / num_groups).
    gn = nn.GroupNorm(3, 6)
    g = x.reshape(2, 5, 2, 3)
    mean = g.mean(axis=(1, 2), keepdims=True)
    var = g.var(axis=(1, 2), keepdims=True)
    ref = ((g - mean) / np.sqrt(var + 1e-5)).reshape(2, 5, 6)
    np.testing.assert_allclose(np.array(gn(mx.array(x))), ref, rtol=1e-4, atol=1e-4)
    g = x.reshape(2, 5, 3, 2)
    mean = g.mean(axis=(1, 3), keepdims=True)
    var = g.var(axis=(1, 3), keepdims=True)
    ref = ((g - mean) / np.sqrt(var + 1e-5)).reshape(2, 5, 6)
    np.testing.assert_allclose(np.array(nn.GroupNorm(3, 6, pytorch_compatible=True)(mx.array(x))), ref,
                               rtol=1e-4, atol=1e-4)


def test_conv_layers(rng):
    c1 = nn.Conv1d(3, 4, 3, padding=1)
    c1.bias = mx.array(rng.standard_normal(4).astype(np.float32))
    x = rng.standard_normal((2, 7, 3)).astype(np.float32)
    w = np.array(c1.weight)  # (4, 3, 3)
    xp = np.pad(x, ((0, 0), (1, 1), (0, 0)))
    ref = np.stack([np.einsum("nkc,okc->no", xp[:, t:t + 3], w) for t in range(7)], axis=1) + np.array(c1.bias)
    np.testing.assert_allclose(np.array(c1(mx.array(x))), ref, rtol=1e-4, atol=1e-5)
    c2 = nn.Conv2d(2, 3, (2, 3), stride=(1, 2))
    x2 = rng.standard_normal((1, 4, 7, 2)).astype(np.float32)
    w2 = np.array(c2.weight)  # (3, 2, 3, 2)
    ref2 = np.zeros((1, 3, 3, 3), np.float32)
    for i in range(3):
        for j in range(3):
            ref2[:, i, j] = np.einsum("nhwc,ohwc->no", x2[:, i:i + 2, 2 * j:2 * j + 3], w2)
    np.testing.assert_allclose(np.array(c2(mx.array(x2))), ref2, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError):
        nn.Conv1d(3, 4, 3, groups=2)


def test_dropout_rope_attention(rng):
    d = nn.Dropout(0.5)
    x = mx.ones((1000,))
    y = np.array(d(x))
    assert set(np.unique(y)) <= {0.0, 2.0} and 300 < (y == 0).sum() < 700
    d.eval()
    assert d(x) is x
    with pytest.raises(ValueError):
        nn.Dropout(1.0)
    # RoPE (non-traditional) against the rotate-half formula.
    q = rng.standard_normal((1, 5, 8)).astype(np.float32)
    rope = nn.RoPE(8)
    pos = np.arange(2, 7)[:, None]
    inv = 10000.0 ** (-np.arange(0, 8, 2) / 8)
    ang = pos * inv
    c, s = np.cos(ang), np.sin(ang)
    a, b = q[..., :4], q[..., 4:]
    ref = np.concatenate([a * c - b * s, a * s + b * c], axis=-1)
    np.testing.assert_allclose(np.array(rope(mx.array(q), offset=2)), ref, rtol=1e-4, atol=1e-5)
    # MultiHeadAttention against NumPy softmax attention with a causal additive mask.
    mha = nn.MultiHeadAttention(8, 2)
    xq = rng.standard_normal((1, 4, 8)).astype(np.float32)
    mask = nn.MultiHeadAttention.create_additive_causal_mask(4)
    out = np.array(mha(mx.array(xq), mx.array(xq), mx.array(xq), mask=mask))
    p = {k: np.array(v) for k, v in tree_flatten(mha.parameters())}
    qq, kk, vv = (xq @ p[f"{n}_proj.weight"].T for n in ("query", "key", "value"))
    heads = []
    for h in range(2):
        sl = slice(4 * h, 4 * h + 4)
        sc = qq[0, :, sl] @ kk[0, :, sl].T / 2.0 + np.array(mask)
        e = np.exp(sc - sc.max(-1, keepdims=True))
        heads.append((e / e.sum(-1, keepdims=True)) @ vv[0, :, sl])
    ref = np.concatenate(heads, -1) @ p["out_proj.weight"].T
    np.testing.assert_allclose(out[0], ref, rtol=1e-4, atol=1e-5)


def test_activations_against_numpy(rng):
    x = rng.standard_normal(50).astype(np.float64) * 3
    xa = mx.array(x.astype(np.float32))
    erf = np.vectorize(math.erf)
    sig = 1 / (1 + np.exp(-x))
    sp = np.log1p(np.exp(x))
    cases = {
        nn.relu: np.maximum(x, 0), nn.relu6: np.clip(x, 0, 6), nn.silu: x * sig, nn.sigmoid: sig,
        nn.gelu: x * (1 + erf(x / math.sqrt(2))) / 2, nn.softplus: sp, nn.mish: x * np.tanh(sp),
        nn.log_sigmoid: -np.log1p(np.exp(-x)), nn.softsign: x / (1 + np.abs(x)),
        nn.elu: np.where(x > 0, x, np.exp(x) - 1), nn.hardswish: x * np.clip(x + 3, 0, 6) / 6,
        nn.GELU(approx="fast"): x * 1 / (1 + np.exp(-1.702 * x)),
        nn.LeakyReLU(0.1): np.where(x > 0, x, 0.1 * x), nn.SiLU(): x * sig,
    }
    for fn, ref in cases.items():
        np.testing.assert_allclose(np.array(fn(xa)), ref, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError):
        nn.GELU(approx="bad")


def test_losses_against_numpy(rng):
    logits = rng.standard_normal((6, 5)).astype(np.float32)
    t = rng.integers(0, 5, 6).astype(np.int32)
    lse = np.log(np.exp(logits.astype(np.float64)).sum(-1))
    ce = lse - logits[np.arange(6), t]
    L = nn.losses
    np.testing.assert_allclose(np.array(L.cross_entropy(mx.array(logits), mx.array(t))), ce, rtol=1e-5)
    np.testing.assert_allclose(float(L.cross_entropy(mx.array(logits), mx.array(t), reduction="mean")), ce.mean(),
                               rtol=1e-5)
    ls = lse - 0.9 * logits[np.arange(6), t] - 0.1 * logits.mean(-1)
    np.testing.assert_allclose(np.array(L.cross_entropy(mx.array(logits), mx.array(t), label_smoothing=0.1)), ls,
                               rtol=1e-5)
    p, q = rng.standard_normal(8).astype(np.float32), rng.standard_normal(8).astype(np.float32)
    d = p.astype(np.float64) - q
    np.testing.assert_allclose(float(L.mse_loss(mx.array(p), mx.array(q))), (d**2).mean(), rtol=1e-5)
    np.testing.assert_allclose(float(L.l1_loss(mx.array(p), mx.array(q), reduction="sum")), np.abs(d).sum(), rtol=1e-5)
    sl1 = np.where(np.abs(d) < 1, 0.5 * d**2, np.abs(d) - 0.5)
    np.testing.assert_allclose(float(L.smooth_l1_loss(mx.array(p), mx.array(q))), sl1.mean(), rtol=1e-5)
    hub = np.where(np.abs(d) <= 1, 0.5 * d**2, np.abs(d) - 0.5)
    np.testing.assert_allclose(np.array(L.huber_loss(mx.array(p), mx.array(q))), hub, rtol=1e-5, atol=1e-6)
    y = (rng.random(8) > 0.5).astype(np.float32)
    bce = np.log1p(np.exp(p.astype(np.float64))) - p * y
    np.testing.assert_allclose(float(L.binary_cross_entropy(mx.array(p), mx.array(y))), bce.mean(), rtol=1e-5)
    logp = logits - lse[:, None]
    np.testing.assert_allclose(np.array(L.nll_loss(mx.array(logp.astype(np.float32)), mx.array(t))),
                               -logp[np.arange(6), t], rtol=1e-5)
    logq = np.roll(logp, 1, axis=0)
    kl = (np.exp(logq) * (logq - logp)).sum(-1)
    np.testing.assert_allclose(
        np.array(L.kl_div_loss(mx.array(logp.astype(np.float32)), mx.array(logq.astype(np.float32)))), kl,
        rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError):
        L.mse_loss(mx.array(p), mx.array(q), reduction="avg")


def test_init_functions():
    a = mx.zeros((64, 32))
    assert float(mx.sum(nn.init.constant(2.0)(a))) == 2.0 * 64 * 32
    g = np.array(nn.init.glorot_uniform()(a))
    lim = math.sqrt(6 / 96)
    assert g.shape == (64, 32) and np.abs(g).max() <= lim and g.std() > lim / 3
    h = np.array(nn.init.he_normal()(a))
    assert abs(h.std() - math.sqrt(1 / 32)) < 0.02
    np.testing.assert_array_equal(np.array(nn.init.identity()(mx.zeros((3, 3)))), np.eye(3))
    with pytest.raises(ValueError):
        nn.init.identity()(a)


def test_value_and_grad_matches_analytic(rng):
    lin = nn.Linear(3, 2)
    x = rng.standard_normal((5, 3)).astype(np.float32)
    y = rng.standard_normal((5, 2)).astype(np.float32)

    def loss_fn(model, x, y):
        out = model(x)
        return mx.mean((out - y) ** 2), out

    (loss, out), grads = nn.value_and_grad(lin, loss_fn)(lin, mx.array(x), mx.array(y))
    w, b = npf(lin.weight), npf(lin.bias)
    r = x @ w.T + b - y
    np.testing.assert_allclose(float(loss), (r**2).mean(), rtol=1e-5)
    np.testing.assert_allclose(np.array(out), x @ w.T + b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.array(grads["weight"]), 2 * r.T @ x / r.size, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.array(grads["bias"]), 2 * r.sum(0) / r.size, rtol=1e-4, atol=1e-6)
    assert isinstance(lin.weight, mx.array) and np.allclose(np.array(lin.weight), w)  # restored
    lin.freeze(keys="bias")
    _, grads = nn.value_and_grad(lin, loss_fn)(lin, mx.array(x), mx.array(y))
    assert list(grads) == ["weight"]


def test_mlp_trains_with_adam():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((512, 2)).astype(np.float32)
    y = ((X[:, 0] * X[:, 1]) > 0).astype(np.int32)  # XOR-like quadrants
    mx.random.seed(1)
    model = MLP(2, 2, 32, 2)
    opt = optim.Adam(learning_rate=0.01)

    def loss_fn(model, X, y):
        return nn.losses.cross_entropy(model(X), y, reduction="mean")

    step = nn.value_and_grad(model, loss_fn)
    Xa, ya = mx.array(X), mx.array(y)
    for _ in range(300):
        loss, grads = step(model, Xa, ya)
        opt.update(model, grads)
        mx.eval(model.parameters(), opt.state)
    acc = float(mx.mean(mx.argmax(model(Xa), axis=1) == ya))
    assert acc > 0.95


def test_mlx_readme_training_loop():
    # MLX's README example with the imports changed.
    import tessera.core as mx
    import tessera.nn as nn
    import tessera.optimizers as optim

    class MLP(nn.Module):
        def __init__(self, num_layers: int, input_dim: int, hidden_dim: int, output_dim: int):
            super().__init__()
            layer_sizes = [input_dim] + [hidden_dim] * num_layers + [output_dim]
            self.layers = [nn.Linear(idim, odim) for idim, odim in zip(layer_sizes[:-1], layer_sizes[1:])]

        def __call__(self, x):
            for l in self.layers[:-1]:
                x = mx.maximum(l(x), 0.0)
            return self.layers[-1](x)

    def loss_fn(model, X, y):
        return mx.mean(nn.losses.cross_entropy(model(X), y))

    def batch_iterate(batch_size, X, y):
        perm = mx.array(np.random.default_rng(0).permutation(y.size))
        for s in range(0, y.size, batch_size):
            ids = perm[s: s + batch_size]
            yield X[ids], y[ids]

    rng = np.random.default_rng(5)
    centers = rng.standard_normal((4, 10)).astype(np.float32) * 3
    labels = rng.integers(0, 4, 256)
    train_images = mx.array(centers[labels] + rng.standard_normal((256, 10)).astype(np.float32))
    train_labels = mx.array(labels.astype(np.int32))
    num_layers, hidden_dim, num_classes, batch_size, num_epochs, learning_rate = 2, 32, 4, 32, 5, 1e-1

    model = MLP(num_layers, train_images.shape[-1], hidden_dim, num_classes)
    mx.eval(model.parameters())
    loss_and_grad_fn = nn.value_and_grad(model, loss_fn)
    optimizer = optim.SGD(learning_rate=learning_rate)
    first = float(loss_fn(model, train_images, train_labels))
    for e in range(num_epochs):
        for X, y in batch_iterate(batch_size, train_images, train_labels):
            loss, grads = loss_and_grad_fn(model, X, y)
            optimizer.update(model, grads)
            mx.eval(model.parameters(), optimizer.state)
    assert float(loss_fn(model, train_images, train_labels)) < first / 4
