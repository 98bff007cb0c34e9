"""a[idx] and a[idx] = v against NumPy over a table of index expressions; take and friends."""

import numpy as np
import pytest

import tessera.core as tx

X = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)

# Index expressions written once, evaluated with `I` = the index builder (numpy arrays for arrays).
INDEX_TABLE = [
    "1", "-1", "0, 2", "1, -1, 3, 4", "slice(None)", "slice(1, None)", "slice(None, None, -1)",
    "slice(None, None, 2), slice(1, 3)", "(Ellipsis, 0)", "(Ellipsis, slice(1, 4, 2))", "(0, Ellipsis, 1)",
    "None", "(None, 0)", "(slice(None), None, 1)", "(0, None, Ellipsis, None)", "slice(-2, None)",
    "slice(10, 20)", "(slice(None), slice(None, None, -2))", "np.array([0, 1, 1])", "np.array([[1], [0]])",
    "(slice(None), np.array([2, 0]))", "(np.array([0, 1]), np.array([2, 1]))",
    "(np.array([0, 1]), slice(None), np.array([3, 0]))", "(Ellipsis, np.array([4, 0, 1]))",
    "(0, np.array([1, 2]), slice(1, 3))", "(np.array([1]), 1, np.array([[0], [2]]))",
    "np.array([True, False])", "(slice(None), np.array([True, False, True]))",
    "(1, slice(None), np.array([False, True, True, False]))", "[0, 1, 0]", "(None, np.array([1, 0]), None)",
    "(np.array([-1, -2]),)", "(slice(None), slice(None), slice(None), 4)",
]


def build(expr):
    idx = eval(expr, {"np": np, "Ellipsis": Ellipsis})
    return idx


def to_tx(idx):
    if isinstance(idx, tuple):
        return tuple(to_tx(i) for i in idx)
    if isinstance(idx, np.ndarray):
        return tx.array(idx)
    return idx


@pytest.mark.parametrize("expr", INDEX_TABLE)
def test_getitem_matches_numpy(expr):
    idx = build(expr)
    want = X[idx]
    got = tx.array(X)[to_tx(idx)]
    assert got.shape == want.shape, expr
    np.testing.assert_array_equal(np.array(got), want)


@pytest.mark.parametrize("expr", INDEX_TABLE)
def test_getitem_on_a_view(expr):
    base = X.transpose(1, 0, 2, 3)[:, :, ::-1]
    view = tx.array(X).transpose(1, 0, 2, 3)[:, :, ::-1]
    idx = build(expr)
    try:
        want = base.transpose(1, 0, 2, 3)[idx]
    except IndexError:
        pytest.skip("index not valid for this view's shape")
    got = view.transpose(1, 0, 2, 3)[to_tx(idx)]
    np.testing.assert_array_equal(np.array(got), want)


@pytest.mark.parametrize("expr", [e for e in INDEX_TABLE if "True" not in e])
@pytest.mark.parametrize("value", ["scalar", "array"])
def test_setitem_matches_numpy(expr, value):
    idx = build(expr)
    want = X.copy()
    target_shape = want[idx].shape
    v = -7.0 if value == "scalar" else -np.arange(np.prod(target_shape[-1:]), dtype=np.float32) - 1
    if value == "array" and len(target_shape) == 0:
        v = np.float32(-3)
    want[idx] = v
    a = tx.array(X)
    a[to_tx(idx)] = v if value == "scalar" else tx.array(v)
    np.testing.assert_array_equal(np.array(a), want)


def test_setitem_bool_mask_and_scalar_dtype():
    x = np.arange(6, dtype=np.int32)
    a = tx.array(x)
    a[a > 2] = 0
    x[x > 2] = 0
    np.testing.assert_array_equal(np.array(a), x)
    assert a.dtype == tx.int32
    h = tx.zeros((3,), tx.float16)
    h[1] = 2.5  # Python scalars take the array's dtype
    assert h.dtype == tx.float16 and h.tolist() == [0.0, 2.5, 0.0]


def test_setitem_rebinds_only_this_object():
    a = tx.arange(4)
    b = a[1:]
    a[0] = 10
    assert a.tolist() == [10, 1, 2, 3] and b.tolist() == [1, 2, 3]


def test_index_errors():
    a = tx.arange(4)
    with pytest.raises(IndexError):
        a[4]
    with pytest.raises(IndexError):
        a[0, 0]
    with pytest.raises(TypeError):
        a["x"]


def test_take_and_along_axis(rng):
    x = rng.standard_normal((4, 5)).astype(np.float32)
    a = tx.array(x)
    idx = np.array([[0, 3], [2, 2]])
    np.testing.assert_array_equal(np.array(tx.take(a, tx.array(idx), axis=1)), np.take(x, idx, axis=1))
    np.testing.assert_array_equal(np.array(tx.take(a, tx.array(idx))), np.take(x, idx))
    np.testing.assert_array_equal(np.array(tx.take(a, 2, axis=0)), x[2])
    order = np.argsort(x, axis=1)
    np.testing.assert_array_equal(np.array(tx.take_along_axis(a, tx.array(order), axis=1)),
                                  np.take_along_axis(x, order, axis=1))
    want = x.copy()
    np.put_along_axis(want, order[:, :1], 0.0, axis=1)
    np.testing.assert_array_equal(np.array(tx.put_along_axis(a, tx.array(order[:, :1]), 0.0, axis=1)), want)
    with pytest.raises(IndexError):
        tx.eval(tx.take(a, tx.array([7]), axis=1))
