"""grad / value_and_grad / vjp / jvp / vmap / checkpoint / custom_function against NumPy finite differences and loops."""

import numpy as np
import pytest

import tessera.core as tx
from tessera.utils import tree_flatten, tree_map, tree_map_with_path, tree_unflatten


def fd_grad(f, x, eps=1e-6):
    """Central finite differences of a scalar NumPy function f at x (float64)."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        g[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


def test_grad_scalar_function_matches_finite_differences(rng):
    x = rng.standard_normal((3, 4))
    g = tx.grad(lambda a: tx.sum(tx.sin(a) * a))(tx.array(x, dtype=tx.float64))
    np.testing.assert_allclose(np.array(g), fd_grad(lambda a: np.sum(np.sin(a) * a), x), rtol=1e-6, atol=1e-8)


def test_value_and_grad_argnums_tuple(rng):
    x, y = rng.standard_normal(5), rng.standard_normal(5)

    def f(a, b, scale):
        return tx.sum(tx.exp(a) * b) * scale

    val, (ga, gb) = tx.value_and_grad(f, argnums=(0, 1))(tx.array(x, dtype=tx.float64), tx.array(y, dtype=tx.float64), 2.0)
    assert val.item() == pytest.approx(2 * np.sum(np.exp(x) * y))
    np.testing.assert_allclose(np.array(ga), fd_grad(lambda a: 2 * np.sum(np.exp(a) * y), x), rtol=1e-6)
    np.testing.assert_allclose(np.array(gb), fd_grad(lambda b: 2 * np.sum(np.exp(x) * b), y), rtol=1e-6)
    # argnums=1 alone: a single gradient, not a tuple
    g1 = tx.grad(f, argnums=1)(tx.array(x), tx.array(y), 2.0)
    assert isinstance(g1, tx.array)
    np.testing.assert_allclose(np.array(g1), 2 * np.exp(x), rtol=1e-5)


def test_grad_of_dict_and_list_trees(rng):
    w, b, z = rng.standard_normal((3, 2)), rng.standard_normal(2), rng.standard_normal(3)
    params = {"w": tx.array(w, dtype=tx.float64), "layers": [tx.array(b, dtype=tx.float64), "const"], "n": 3}

    def loss(p, x):
        assert p["layers"][1] == "const" and p["n"] == 3  # non-array leaves pass through
        return tx.sum(tx.tanh(x @ p["w"] + p["layers"][0]) ** 2)

    g = tx.grad(loss)(params, tx.array(z, dtype=tx.float64))
    assert set(g) == {"w", "layers", "n"} and isinstance(g["layers"], list) and g["layers"][1] == "const"
    ref = lambda W, B: np.sum(np.tanh(z @ W + B) ** 2)
    np.testing.assert_allclose(np.array(g["w"]), fd_grad(lambda W: ref(W, b), w), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(np.array(g["layers"][0]), fd_grad(lambda B: ref(w, B), b), rtol=1e-6, atol=1e-9)


def test_value_and_grad_returns_aux_as_mlx():
    def f(x):
        return tx.sum(x * x), {"double": 2 * x}

    (loss, aux), g = tx.value_and_grad(f)(tx.array([1.0, 2.0, 3.0]))
    assert loss.item() == pytest.approx(14.0)
    np.testing.assert_allclose(np.array(aux["double"]), [2, 4, 6])
    np.testing.assert_allclose(np.array(g), [2, 4, 6])


def test_grad_errors():
    with pytest.raises(ValueError, match=r"\[grad\]"):
        tx.grad(lambda x: "nope")(tx.array([1.0]))
    with pytest.raises(ValueError, match=r"\[grad\] argnums"):
        tx.grad(lambda x: tx.sum(x), argnums=3)(tx.array([1.0]))
    with pytest.raises(ValueError, match=r"\[grad\] argument 1 holds no arrays"):
        tx.grad(lambda x, s: tx.sum(x) * s, argnums=1)(tx.array([1.0]), 2.0)
    with pytest.raises(ZeroDivisionError):  # Python errors inside fun propagate
        tx.grad(lambda x: 1 / 0)(tx.array([1.0]))


def test_vjp_and_jvp_match_jacobian(rng):
    a, b = rng.standard_normal(4), rng.standard_normal(4)
    f = lambda x, y: [x * y, tx.sin(x)]
    ct = [rng.standard_normal(4), rng.standard_normal(4)]
    outs, vjps = tx.vjp(f, [tx.array(a), tx.array(b)], [tx.array(c.astype(np.float32)) for c in ct])
    np.testing.assert_allclose(np.array(outs[0]), a * b, rtol=1e-5)
    np.testing.assert_allclose(np.array(vjps[0]), ct[0] * b + ct[1] * np.cos(a), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.array(vjps[1]), ct[0] * a, rtol=1e-5, atol=1e-6)
    ta, tb = rng.standard_normal(4), rng.standard_normal(4)
    outs, jvps = tx.jvp(f, [tx.array(a), tx.array(b)], [tx.array(ta.astype(np.float32)), tx.array(tb.astype(np.float32))])
    np.testing.assert_allclose(np.array(jvps[0]), ta * b + a * tb, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.array(jvps[1]), np.cos(a) * ta, rtol=1e-5, atol=1e-6)
    # a single-array function returns one-element lists
    outs, vjps = tx.vjp(lambda x: x * 3, [tx.array(a)], [tx.ones((4,))])
    assert len(outs) == 1 and len(vjps) == 1
    np.testing.assert_allclose(np.array(vjps[0]), np.full(4, 3.0))


def test_vmap_matches_loop(rng):
    x, w = rng.standard_normal((5, 3)), rng.standard_normal((3, 4))
    f = lambda a, m: tx.tanh(a @ m)
    out = tx.vmap(f, in_axes=(0, None))(tx.array(x), tx.array(w))
    ref = np.stack([np.tanh(x[i] @ w) for i in range(5)])
    np.testing.assert_allclose(np.array(out), ref, rtol=1e-5, atol=1e-6)
    # in_axes=1 and out_axes=1: columns in, columns out
    out = tx.vmap(lambda v: v * tx.sum(v), in_axes=1, out_axes=1)(tx.array(x))
    ref = np.stack([x[:, j] * x[:, j].sum() for j in range(3)], axis=1)
    np.testing.assert_allclose(np.array(out), ref, rtol=1e-5, atol=1e-5)


def test_vmap_over_dict_tree(rng):
    x, y = rng.standard_normal((4, 2)), rng.standard_normal((2, 4))
    f = lambda d: {"s": d["a"] + d["b"], "p": d["a"] * d["b"]}
    out = tx.vmap(f, in_axes=({"a": 0, "b": 1},))({"a": tx.array(x), "b": tx.array(y)})
    np.testing.assert_allclose(np.array(out["s"]), x + y.T, rtol=1e-6)
    np.testing.assert_allclose(np.array(out["p"]), x * y.T, rtol=1e-6)
    with pytest.raises(ValueError, match=r"\[vmap\]"):
        tx.vmap(f, in_axes=({"a": 0},))({"a": tx.array(x), "b": tx.array(y)})


def test_stop_gradient_and_checkpoint(rng):
    x = rng.standard_normal(6)
    g = tx.grad(lambda a: tx.sum(a * tx.stop_gradient(a)))(tx.array(x))
    np.testing.assert_allclose(np.array(g), x, rtol=1e-6)
    body = lambda a: tx.sin(a) * tx.exp(a)
    g1 = tx.grad(lambda a: tx.sum(tx.checkpoint(body)(a)))(tx.array(x))
    g2 = tx.grad(lambda a: tx.sum(body(a)))(tx.array(x))
    np.testing.assert_allclose(np.array(g1), np.array(g2), rtol=1e-6)
    np.testing.assert_allclose(np.array(g1), np.exp(x) * (np.cos(x) + np.sin(x)), rtol=1e-5)


def test_custom_function_vjp():
    @tx.custom_function
    def f(x):
        return tx.exp(x)

    @f.vjp
    def f_vjp(primals, cotangent, output):
        return (cotangent * 10,)

    x = tx.array([0.5, 1.0])
    np.testing.assert_allclose(np.array(f(x)), np.exp([0.5, 1.0]), rtol=1e-6)
    np.testing.assert_allclose(np.array(tx.grad(lambda a: tx.sum(f(a)))(x)), [10, 10])


def test_tree_utils():
    tree = {"a": [1, (2, 3)], "b": {"c": 4}}
    flat = tree_flatten(tree)
    assert flat == [("a.0", 1), ("a.1.0", 2), ("a.1.1", 3), ("b.c", 4)]
    assert tree_flatten([[[0]]]) == [("0.0.0", 0)]
    assert tree_unflatten([("a.0", 1), ("a.1", 2), ("b.c", 4)]) == {"a": [1, 2], "b": {"c": 4}}
    assert tree_map(lambda x, y: x + y, tree, tree) == {"a": [2, (4, 6)], "b": {"c": 8}}
    assert tree_map_with_path(lambda p, x: p, tree) == {"a": ["a.0", ("a.1.0", "a.1.1")], "b": {"c": "b.c"}}


def test_vmap_axis_forms(rng):
    x = rng.standard_normal((2, 3))
    out = tx.vmap(lambda v: v * 2, in_axes=-1)(tx.array(x))  # negative input axes count from the end
    np.testing.assert_allclose(np.array(out), 2 * x.T, rtol=1e-6)
    with pytest.raises(ValueError, match=r"\[vmap\] out_axes"):
        tx.vmap(lambda v: v * 2, out_axes=None)(tx.array(x))
    with pytest.raises(ValueError, match=r"\[vmap\] in_axes"):
        tx.vmap(lambda v: v * 2, in_axes=2)(tx.array(x))


def test_custom_function_jvp_and_vmap_rules():
    calls = []

    @tx.custom_function
    def f(x, y):
        return x * y

    @f.jvp
    def f_jvp(primals, tangents):
        (x, y), (tx_, ty) = primals, tangents
        return 100 * (tx_ * y + x * ty)

    @f.vmap
    def f_vmap(inputs, axes):
        calls.append(axes)
        return inputs[0] * inputs[1] + 1000, axes[0]

    x, y = tx.array([1.0, 2.0]), tx.array([3.0, 4.0])
    _, jvps = tx.jvp(f, [x, y], [tx.ones((2,)), tx.zeros((2,))])
    np.testing.assert_allclose(np.array(jvps[0]), [300, 400])
    np.testing.assert_allclose(np.array(tx.vmap(f)(x, y)), [1003, 1008])
    assert calls == [[0, 0]]
