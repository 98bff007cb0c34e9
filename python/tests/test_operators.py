"""Python operators on arrays: results against NumPy and MLX's scalar promotion rules."""

import operator

import numpy as np
import pytest

import tessera.core as tx

OPS = [operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv, operator.mod, operator.pow,
       operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge]
INT_OPS = [operator.and_, operator.or_, operator.xor, operator.lshift, operator.rshift]


@pytest.mark.parametrize("op", OPS, ids=lambda o: o.__name__)
def test_array_array(op, rng):
    x = (rng.standard_normal((3, 4)) + 3).astype(np.float32)
    y = (rng.standard_normal((4,)) + 3).astype(np.float32)
    np.testing.assert_allclose(np.array(op(tx.array(x), tx.array(y))), op(x, y), rtol=1e-5)


@pytest.mark.parametrize("op", OPS, ids=lambda o: o.__name__)
def test_reflected_with_scalars(op, rng):
    x = (rng.standard_normal((5,)) + 3).astype(np.float32)
    np.testing.assert_allclose(np.array(op(2.0, tx.array(x))), op(np.float32(2.0), x), rtol=1e-5)
    np.testing.assert_allclose(np.array(op(tx.array(x), 2)), op(x, np.float32(2)), rtol=1e-5)


@pytest.mark.parametrize("op", INT_OPS, ids=lambda o: o.__name__)
def test_integer_operators(op, rng):
    x = rng.integers(0, 50, (3, 4)).astype(np.int32)
    y = rng.integers(0, 5, (4,)).astype(np.int32)
    np.testing.assert_array_equal(np.array(op(tx.array(x), tx.array(y))), op(x, y))
    np.testing.assert_array_equal(np.array(op(tx.array(x), 3)), op(x, np.int32(3)))
    np.testing.assert_array_equal(np.array(op(3, tx.array(x))), op(np.int32(3), x))


def test_unary_operators():
    a = tx.array([1, -2, 3])
    assert (-a).tolist() == [-1, 2, -3]
    assert (~a).tolist() == [-2, 1, -4]
    assert abs(a).tolist() == [1, 2, 3]
    assert (+a).tolist() == [1, -2, 3]
    assert (~tx.array([True, False])).tolist() == [False, True]


def test_matmul_operator(rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    y = rng.standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_allclose(np.array(tx.array(x) @ tx.array(y)), x @ y, rtol=1e-5)
    np.testing.assert_allclose(np.array(y.T @ tx.array(x)[0].T), y.T @ x[0].T, rtol=1e-5)


# (array dtype, scalar, expected result dtype) under MLX's rule: Python scalars never upcast arrays.
PROMOTION = [
    (tx.int32, 1.5, tx.float32), (tx.int32, 2, tx.int32), (tx.float16, 2.0, tx.float16), (tx.float16, 3, tx.float16),
    (tx.bfloat16, 1.0, tx.bfloat16), (tx.uint8, 3, tx.uint8), (tx.int8, 2.5, tx.float32), (tx.bool, 1, tx.int32),
    (tx.bool, True, tx.bool), (tx.bool, 1.5, tx.float32), (tx.float64, 1.5, tx.float64), (tx.int64, 7, tx.int64),
    (tx.complex64, 1.0, tx.complex64), (tx.float32, 1j, tx.complex64),
]


@pytest.mark.parametrize("dtype,scalar,want", PROMOTION, ids=str)
def test_scalar_promotion(dtype, scalar, want):
    a = tx.ones((3,), dtype)
    assert (a + scalar).dtype == want
    assert (scalar * a).dtype == want
    assert tx.add(a, scalar).dtype == want
    assert tx.multiply(scalar, a).dtype == want


def test_comparison_results_and_none():
    a = tx.array([1, 2, 3])
    assert (a == 2).dtype == tx.bool and (a == 2).tolist() == [False, True, False]
    assert (a == None) is False  # noqa: E711
    assert (a != None) is True  # noqa: E711


def test_inplace_rebinds_like_mlx():
    a = tx.array([1.0, 2.0])
    alias = a
    before = a[:]
    a += 1
    assert a is alias and a.tolist() == [2.0, 3.0]
    assert before.tolist() == [1.0, 2.0]
    a *= tx.array([2.0, 2.0])
    a -= 1
    a /= 2
    a **= 2
    assert a.tolist() == [2.25, 6.25]
    b = tx.array([7, 8])
    b //= 2
    b %= 3
    b <<= 1
    b |= 1
    assert b.tolist() == [1, 3]
