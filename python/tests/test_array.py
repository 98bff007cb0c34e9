"""The array class: construction rules, attributes, methods, repr, iteration, hashing."""

import copy

import numpy as np
import pytest

import tessera.core as tx


def test_construction_from_scalars_and_lists():
    assert tx.array(1).dtype == tx.int32
    assert tx.array(1.0).dtype == tx.float32
    assert tx.array(True).dtype == tx.bool_ == tx.bool
    assert tx.array(1 + 2j).dtype == tx.complex64
    assert tx.array(2**40).dtype == tx.int64 and tx.array(2**40).item() == 2**40
    assert tx.array([1, 2.5]).dtype == tx.float32
    assert tx.array([[True, False]]).dtype == tx.bool
    assert tx.array([1, 2], dtype=tx.float16).dtype == tx.float16
    assert tx.array(3, tx.uint8).dtype == tx.uint8
    assert tx.array([]).shape == (0,)
    assert tx.array((1, 2, 3)).tolist() == [1, 2, 3]
    assert tx.array([tx.array(1), tx.array(2)]).tolist() == [1, 2]
    b = tx.array([1, 2])
    assert tx.array(b).tolist() == [1, 2] and tx.array(b, tx.float32).dtype == tx.float32


def test_construction_from_numpy_and_buffers():
    for dt in [np.int8, np.uint16, np.uint32, np.uint64, np.int16, np.complex64]:
        x = np.arange(6).astype(dt).reshape(2, 3)
        a = tx.array(x)
        assert np.array(a).dtype == dt
        np.testing.assert_array_equal(np.array(a), x)
    x = np.arange(12.0).reshape(3, 4)[:, ::2]  # non-contiguous source
    np.testing.assert_array_equal(np.array(tx.array(x)), x)
    assert tx.array(np.float64(2.5)).dtype == tx.float64
    assert tx.array(np.arange(3, dtype=np.complex128)).dtype == tx.complex64
    assert tx.array(memoryview(np.arange(4, dtype=np.int16))).tolist() == [0, 1, 2, 3]
    assert tx.array(bytearray(b"\x01\x02")).tolist() == [1, 2]
    src = np.ones(3, np.float32)
    a = tx.array(src)
    src[0] = 5  # the array owns a copy
    assert a.tolist() == [1, 1, 1]


def test_attributes():
    a = tx.zeros((2, 3, 4), tx.float16)
    assert a.shape == (2, 3, 4) and a.ndim == 3 and a.size == 24
    assert a.itemsize == 2 and a.nbytes == 48 and a.dtype.size == 2
    assert a.T.shape == (4, 3, 2) and len(a) == 2
    assert tx.float32.size == 4 and tx.bfloat16.size == 2 and isinstance(tx.int8, tx.Dtype)
    assert {tx.float32: 1}[tx.float32] == 1 and tx.float32 != tx.float16


def test_methods_match_numpy(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    a = tx.array(x)
    pos = np.abs(x) + 0.5
    p = tx.array(pos)
    checks = [
        (a.abs(), np.abs(x)), (a.exp(), np.exp(x)), (p.log(), np.log(pos)), (p.sqrt(), np.sqrt(pos)),
        (a.square(), x * x), (p.rsqrt(), 1 / np.sqrt(pos)), (p.reciprocal(), 1 / pos), (p.log2(), np.log2(pos)),
        (p.log10(), np.log10(pos)), (a.log1p() if False else p.log1p(), np.log1p(pos)), (a.sin(), np.sin(x)),
        (a.cos(), np.cos(x)), (a.round(1), np.round(x, 1)), (a.flatten(), x.ravel()), (a.swapaxes(0, 1), x.T),
        (a.moveaxis(0, 1), x.T), (a.astype(tx.float16), x.astype(np.float16)), (a.diagonal(), np.diagonal(x)),
        (a.sum(), x.sum()), (a.mean(axis=0), x.mean(0)), (a.max(1), x.max(1)), (a.min(), x.min()),
        (a.prod(axis=[0, 1]), x.prod()), (a.var(), x.var()), (a.std(1, ddof=1), x.std(1, ddof=1)),
        (a.cumsum(1), x.cumsum(1)), (a.argmax(), x.argmax()), (a.argmin(0), x.argmin(0)),
        ((a > 0).all(1), (x > 0).all(1)), ((a > 0).any(), (x > 0).any()),
        (a.reshape(4, 3).squeeze(), x.reshape(4, 3)), (a[None].squeeze(0), x),
        (a.logsumexp(axis=1), np.log(np.exp(x).sum(1))),
    ]
    for got, want in checks:
        np.testing.assert_allclose(np.array(got), want, rtol=2e-3 if got.dtype == tx.float16 else 1e-5, atol=1e-5)
    parts = a.split(2, axis=1)
    assert [p.shape for p in parts] == [(3, 2), (3, 2)]
    assert tx.array([1 + 2j]).conj().tolist() == [1 - 2j]
    assert tx.array([1 + 2j]).real.tolist() == [1.0] and tx.array([1 + 2j]).imag.tolist() == [2.0]


def test_item_tolist_scalars():
    assert tx.array(3).item() == 3 and isinstance(tx.array(3).item(), int)
    assert isinstance(tx.array(2.5).item(), float)
    assert tx.array(True).item() is True
    assert tx.array([[1, 2]]).tolist() == [[1, 2]]
    assert tx.array(1.5, tx.bfloat16).item() == 1.5  # via float32
    assert int(tx.array(7)) == 7 and float(tx.array(0.5)) == 0.5
    assert [10, 20, 30][tx.array(1)] == 20
    with pytest.raises(ValueError):
        tx.array([1, 2]).item()


def test_repr_like_mlx():
    assert repr(tx.array([1, 2, 3])) == "array([1, 2, 3], dtype=int32)"
    assert repr(tx.array(True)) == "array(True, dtype=bool)"
    assert repr(tx.array([[1, 2], [3, 4]])) == "array([[1, 2],\n       [3, 4]], dtype=int32)"
    assert str(tx.array([0.5], tx.bfloat16)) == "array([0.5], dtype=bfloat16)"
    assert repr(tx.float16) == "tessera.core.float16"


def test_bool_len_iter_hash():
    assert bool(tx.array([1])) is True and bool(tx.array(0.0)) is False
    with pytest.raises(ValueError):
        bool(tx.array([1, 2]))
    with pytest.raises(TypeError):
        len(tx.array(1))
    rows = list(tx.array([[1, 2], [3, 4], [5, 6]]))
    assert [r.tolist() for r in rows] == [[1, 2], [3, 4], [5, 6]]
    a, b = tx.array(1), tx.array(1)
    assert len({a, b, a}) == 2
    assert copy.copy(a).tolist() == 1 and copy.deepcopy(tx.array([1, 2])).tolist() == [1, 2]


def test_array_namespace():
    assert tx.array([1]).__array_namespace__() is tx
