"""The Python package builds, imports without a GPU, and converts to and from NumPy."""

import numpy as np
import pytest

import tessera.core as tx


def test_roundtrip_numpy_dtypes():
    rng = np.random.default_rng(0)
    for dt in [np.float32, np.float64, np.int32, np.int64, np.uint8, np.float16, np.bool_]:
        x = (rng.standard_normal((3, 4)) * 10).astype(dt)
        a = tx.array(x)
        assert a.shape == (3, 4)
        np.testing.assert_array_equal(np.array(a), x)


def test_lists_follow_mlx_defaults():
    assert tx.array([1.5, 2.0]).dtype == tx.float32
    assert tx.array([1, 2]).dtype == tx.int32
    assert tx.array(True).dtype == tx.bool
    assert tx.array([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]


def test_arithmetic_matches_numpy():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 7)).astype(np.float32)
    y = rng.standard_normal((7,)).astype(np.float32)
    a, b = tx.array(x), tx.array(y)
    np.testing.assert_allclose(np.array(a + b), x + y, rtol=1e-6)
    np.testing.assert_allclose(np.array(a * b - a / 2), x * y - x / 2, rtol=1e-6)
    np.testing.assert_allclose(np.array(tx.exp(a)), np.exp(x), rtol=1e-5)
    np.testing.assert_allclose(np.array(a.T), x.T)


def test_errors_are_python_exceptions():
    with pytest.raises(ValueError, match=r"^\[add\]"):
        tx.array(np.zeros((2, 3))) + tx.array(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"^\[reshape\]"):
        tx.array([1, 2, 3]).reshape([2, 2])


def test_memory_functions():
    tx.clear_cache()
    a = tx.arange(0, 1 << 16)
    tx.eval(a)
    assert tx.get_active_memory() >= 4 * (1 << 16)
    assert tx.get_peak_memory() >= tx.get_active_memory()
