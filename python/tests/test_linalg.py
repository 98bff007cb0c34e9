"""Matmul family, einsum and tessera.core.linalg against NumPy."""

import numpy as np
import pytest

import tessera.core as tx


@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 5)), ((2, 3, 4), (4, 2)), ((4,), (4, 3)), ((2, 1, 3, 4), (5, 4, 2))])
def test_matmul_shapes(sa, sb, rng):
    x = rng.standard_normal(sa).astype(np.float32)
    y = rng.standard_normal(sb).astype(np.float32)
    np.testing.assert_allclose(np.array(tx.matmul(tx.array(x), tx.array(y))), x @ y, rtol=1e-4, atol=1e-5)


def test_contractions(rng):
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((4, 5)).astype(np.float32)
    c = rng.standard_normal((3, 5)).astype(np.float32)
    A, B, C = tx.array(a), tx.array(b), tx.array(c)
    np.testing.assert_allclose(np.array(tx.addmm(C, A, B, alpha=2.0, beta=0.5)), 2 * a @ b + 0.5 * c, rtol=1e-4)
    np.testing.assert_allclose(np.array(tx.outer(A[0], B[0])), np.outer(a[0], b[0]), rtol=1e-5)
    np.testing.assert_allclose(np.array(tx.inner(A, tx.array(a))), np.inner(a, a), rtol=1e-4)
    np.testing.assert_allclose(np.array(tx.tensordot(A, B, axes=1)), np.tensordot(a, b, 1), rtol=1e-4)
    np.testing.assert_allclose(np.array(tx.tensordot(A, B, axes=[[1], [0]])), np.tensordot(a, b, ([1], [0])), rtol=1e-4)
    np.testing.assert_allclose(np.array(tx.einsum("ij,jk->ik", A, B)), a @ b, rtol=1e-4)
    np.testing.assert_allclose(np.array(tx.einsum("ij,kj", A, tx.array(b.T))), np.einsum("ij,kj", a, b.T), rtol=1e-4)


def spd(rng, n):
    m = rng.standard_normal((n, n))
    return (m @ m.T + n * np.eye(n)).astype(np.float32)


def test_linalg(rng):
    a = spd(rng, 4)
    A = tx.array(a)
    np.testing.assert_allclose(np.array(tx.linalg.inv(A)), np.linalg.inv(a), rtol=1e-3, atol=1e-5)
    b = rng.standard_normal((4,)).astype(np.float32)
    np.testing.assert_allclose(np.array(tx.linalg.solve(A, tx.array(b))), np.linalg.solve(a, b), rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(np.array(tx.linalg.cholesky(A)), np.linalg.cholesky(a), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.array(tx.linalg.cholesky(A, upper=True)), np.linalg.cholesky(a).T, rtol=1e-4, atol=1e-5)
    q, r = tx.linalg.qr(A)
    np.testing.assert_allclose(np.array(q @ r), a, rtol=1e-4, atol=1e-4)
    u, s, vt = tx.linalg.svd(A)
    np.testing.assert_allclose(np.array(s), np.linalg.svd(a, compute_uv=False), rtol=1e-4)
    np.testing.assert_allclose(np.array((u * s) @ vt), a, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.array(tx.linalg.svd(A, compute_uv=False)), np.linalg.svd(a, compute_uv=False), rtol=1e-4)
    w, v = tx.linalg.eigh(A)
    np.testing.assert_allclose(np.array(w), np.linalg.eigvalsh(a), rtol=1e-4)
    np.testing.assert_allclose(np.array(tx.linalg.eigvalsh(A, UPLO="U")), np.linalg.eigvalsh(a, UPLO="U"), rtol=1e-4)


@pytest.mark.parametrize("ord,axis", [(None, None), (1, None), (np.inf, None), ("fro", None), (2, 1), (3, 0),
                                      (-np.inf, 1), (0, 1), (1, (0, 1)), (-1, None)])
def test_norm(ord, axis, rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    got = tx.linalg.norm(tx.array(x), ord, axis)
    np.testing.assert_allclose(np.array(got), np.linalg.norm(x, ord, axis), rtol=1e-5)
    assert tx.linalg.norm(tx.array(x), axis=1, keepdims=True).shape == (3, 1)
