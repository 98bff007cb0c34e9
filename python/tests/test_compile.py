# tessera.core.compile: same results as the plain function, traced once per structure and signature.
import numpy as np
import pytest

import tessera.core as tx


def gelu(x):
    return x * 0.5 * (1 + tx.erf(x / np.sqrt(2.0)))


def test_compiled_matches_plain_on_random_inputs():
    rng = np.random.default_rng(0)
    f = tx.compile(gelu)
    for shape in [(7,), (3, 5), (1000,)]:
        x = tx.array(rng.standard_normal(shape).astype(np.float32))
        np.testing.assert_allclose(np.array(f(x)), np.array(gelu(x)), rtol=1e-6, atol=1e-7)


def test_trees_kwargs_and_constants():
    calls = []

    def fun(params, x, scale=1.0):
        calls.append(1)
        h = tx.matmul(x, params["w"]) + params["b"]
        return {"y": tx.tanh(h) * scale, "aux": [h.sum()]}

    f = tx.compile(fun)
    rng = np.random.default_rng(1)
    params = {"w": tx.array(rng.standard_normal((4, 3)).astype(np.float32)),
              "b": tx.array(rng.standard_normal((3,)).astype(np.float32))}
    x = tx.array(rng.standard_normal((2, 4)).astype(np.float32))
    for scale in (1.0, 2.0, 1.0):
        got, want = f(params, x, scale=scale), fun(params, x, scale=scale)
        np.testing.assert_allclose(np.array(got["y"]), np.array(want["y"]), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.array(got["aux"][0]), np.array(want["aux"][0]), rtol=1e-5)
    # Traced once per scale (a constant of the trace); the repeated scale=1.0 call replays.
    assert len(calls) == 3 + 2  # 3 plain calls + 2 traces

    calls.clear()
    x2 = tx.array(rng.standard_normal((5, 4)).astype(np.float32))  # new shape: one more trace
    f(params, x2)
    f(params, x2)
    assert len(calls) == 1


def test_grad_of_compiled_and_disable():
    f = tx.compile(lambda x: (tx.sin(x) * x).sum())
    x = tx.array(np.linspace(-2, 2, 9).astype(np.float32))
    g = tx.grad(f)(x)
    xs = np.linspace(-2, 2, 9)
    np.testing.assert_allclose(np.array(g), np.cos(xs) * xs + np.sin(xs), rtol=1e-5, atol=1e-6)
    tx.disable_compile()
    try:
        np.testing.assert_allclose(np.array(f(x)), float((np.sin(xs) * xs).sum()), rtol=1e-5)
    finally:
        tx.enable_compile()


def test_implicit_state_must_be_a_tree():
    # inputs=/outputs= are trees (lists, dicts) whose arrays are replaced in place: see test_compile_state.py.
    with pytest.raises(ValueError, match=r"\[compile\]"):
        tx.compile(gelu, inputs=tx.array(1.0))
