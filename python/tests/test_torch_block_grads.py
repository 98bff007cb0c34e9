"""Issue 2's cross-check: output and gradients of a small pre-norm transformer block built from tessera.nn
(TransformerEncoderLayer with gelu, causal mask) against torch's (the committed fixture
tests/fixtures/torch_block_grads.npz, made by tests/fixtures/make_torch_block_grads.py, and live torch when
installed) to 1e-4 in float32, and against float64 finite differences of the NumPy reference in that script."""

import importlib.util
import math
import os

import numpy as np
import pytest

import tessera.core as tx
import tessera.nn as nn
from tessera.nn._tree import tree_flatten, tree_unflatten

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "tests", "fixtures", "make_torch_block_grads.py")
_spec = importlib.util.spec_from_file_location("make_torch_block_grads", SCRIPT)
ref = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref)


def tessera_block():
    return nn.TransformerEncoderLayer(ref.DIMS, ref.HEADS, mlp_dims=ref.HIDDEN, activation=nn.gelu, norm_first=True)


def tessera_output_and_grads(params, x, r, dtype):
    """(output, {name: grad} incl. "x") of the tessera.nn block with `params` in `dtype`."""
    model = tessera_block()
    assert sorted(k for k, _ in tree_flatten(model.parameters())) == sorted(ref.PARAM_SHAPES)
    p = tree_unflatten([(k, tx.array(np.asarray(v), dtype=dtype)) for k, v in params.items()])
    model.update(p)
    mask = nn.MultiHeadAttention.create_additive_causal_mask(ref.L, dtype)
    rr = tx.array(np.asarray(r), dtype=dtype)

    def loss(p, xx):
        model.update(p)
        return (model(xx, mask) * rr).sum()

    xx = tx.array(np.asarray(x), dtype=dtype)
    _, (gp, gx) = tx.value_and_grad(loss, argnums=(0, 1))(p, xx)
    model.update(p)
    grads = {k: np.array(v, dtype=np.float64) for k, v in tree_flatten(gp)}
    grads["x"] = np.array(gx, dtype=np.float64)
    return np.array(model(xx, mask), dtype=np.float64), grads


def assert_grads_close(got, want, rtol):
    """Every gradient within rtol relative to the largest entry of its tensor (and elementwise rtol)."""
    assert set(got) == set(want)
    for name in want:
        w = np.asarray(want[name], np.float64)
        np.testing.assert_allclose(got[name], w, rtol=rtol, atol=rtol * np.abs(w).max(), err_msg=name)


@pytest.mark.parametrize("dtype,rtol", [(tx.float64, 1e-6), (tx.float32, 1e-4)])
def test_block_matches_float64_finite_differences(dtype, rtol):
    params, x, r = ref.make_inputs()
    out, grads = tessera_output_and_grads(params, x, r, dtype)
    want = ref.numpy_block(params, x)
    np.testing.assert_allclose(out, want, rtol=rtol, atol=rtol * np.abs(want).max())
    entries = ref.reference_gradient_entries(params, x, r)
    assert len(entries) == 4 * (len(ref.PARAM_SHAPES) + 1)
    for name, idx, fd in entries:
        scale = np.abs(grads[name]).max()
        assert abs(grads[name][idx] - fd) <= rtol * (abs(fd) + scale), (name, idx, grads[name][idx], fd)


def test_finite_differences_see_the_causal_mask():
    # The reference is only useful if it is sensitive: the first position's output ignores later inputs.
    params, x, r = ref.make_inputs()
    r = np.zeros_like(r)
    r[:, 0] = 1.0
    assert abs(ref.finite_difference(params, x, r, "x", (0, 3, 2))) < 1e-9
    assert abs(ref.finite_difference(params, x, r, "x", (0, 0, 2))) > 1e-3
    _, grads = tessera_output_and_grads(params, x, r, tx.float32)
    assert np.abs(grads["x"][:, 1:]).max() < 1e-6


FIXTURE_MISSING = not os.path.exists(ref.FIXTURE)


@pytest.mark.skipif(FIXTURE_MISSING, reason="tests/fixtures/torch_block_grads.npz not generated yet "
                                            "(run tests/fixtures/make_torch_block_grads.py where torch is installed)")
def test_block_matches_torch_fixture():
    data = np.load(ref.FIXTURE)
    params = {k[len("param/"):]: data[k] for k in data.files if k.startswith("param/")}
    assert sorted(params) == sorted(ref.PARAM_SHAPES)
    # The fixture was made from the script's seeded inputs.
    p0, x0, r0 = ref.make_inputs()
    for k in params:
        np.testing.assert_array_equal(params[k], p0[k])
    np.testing.assert_array_equal(data["x"], x0)
    out, grads = tessera_output_and_grads(params, data["x"], data["r"], tx.float32)
    np.testing.assert_allclose(out, data["out"], rtol=1e-4, atol=1e-4 * np.abs(data["out"]).max())
    want = {k[len("grad/"):]: data[k] for k in data.files if k.startswith("grad/")}
    assert_grads_close(grads, want, 1e-4)


def test_block_matches_live_torch():
    pytest.importorskip("torch")
    params, x, r = ref.make_inputs()
    t_out, t_grads, t_loss = ref.torch_block_grads(params, x, r)
    out, grads = tessera_output_and_grads(params, x, r, tx.float32)
    np.testing.assert_allclose(out, t_out, rtol=1e-4, atol=1e-4 * np.abs(t_out).max())
    assert math.isclose(float((out * r).sum()), t_loss, rel_tol=1e-4)
    assert_grads_close(grads, t_grads, 1e-4)
