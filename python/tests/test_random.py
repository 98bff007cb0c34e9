"""tessera.core.random: keys, determinism and distribution statistics."""

import numpy as np
import pytest

import tessera.core as tx
import tessera.core.random as txr


def test_keys_and_split():
    k = txr.key(42)
    assert k.shape == (2,) and k.dtype == tx.uint32
    assert k.tolist() == [0, 42]
    ks = txr.split(k)
    assert ks.shape == (2, 2)
    assert txr.split(k, num=5).shape == (5, 2)
    assert not np.array_equal(np.array(ks[0]), np.array(ks[1]))
    np.testing.assert_array_equal(np.array(txr.split(k)), np.array(ks))


def test_determinism_with_key_and_seed():
    k = txr.key(0)
    assert np.array_equal(np.array(txr.uniform(shape=(8,), key=k)), np.array(txr.uniform(shape=(8,), key=k)))
    txr.seed(3)
    a = np.array(txr.normal((5,)))
    txr.seed(3)
    b = np.array(txr.normal((5,)))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, np.array(txr.normal((5,))))


def test_distribution_statistics():
    k = txr.key(1)
    u = np.array(txr.uniform(-2, 3, (20000,), key=k))
    assert u.min() >= -2 and u.max() < 3 and abs(u.mean() - 0.5) < 0.05
    n = np.array(txr.normal((20000,), loc=1.0, scale=2.0, key=k))
    assert abs(n.mean() - 1.0) < 0.05 and abs(n.std() - 2.0) < 0.05
    assert txr.normal((2, 2), tx.float16).dtype == tx.float16
    r = np.array(txr.randint(3, 9, [10000], key=k))
    assert r.min() == 3 and r.max() == 8 and txr.randint(0, 2, (3,)).dtype == tx.int32
    b = np.array(txr.bernoulli(0.3, (20000,), key=k))
    assert b.dtype == np.bool_ and abs(b.mean() - 0.3) < 0.02
    assert txr.bernoulli(tx.array([0.0, 1.0])).tolist() == [False, True]
    t = np.array(txr.truncated_normal(-1.0, 0.5, (5000,), key=k))
    assert t.min() >= -1 and t.max() <= 0.5
    g = np.array(txr.gumbel((20000,), key=k))
    assert abs(g.mean() - 0.5772) < 0.05
    bits = txr.bits((4,), 2, key=k)
    assert bits.dtype == tx.uint16


def test_categorical_and_permutation():
    k = txr.key(2)
    logits = tx.log(tx.array([[0.1, 0.0, 0.9], [1.0, 0.0, 0.0]]) + 1e-9)
    s = np.array(txr.categorical(logits, key=k))
    assert s.shape == (2,) and s[1] == 0
    many = np.array(txr.categorical(logits, num_samples=4000, key=k))
    assert many.shape == (2, 4000) and abs((many[0] == 2).mean() - 0.9) < 0.03
    assert txr.categorical(logits, shape=(5, 2), key=k).shape == (5, 2)
    p = np.array(txr.permutation(10, key=k))
    assert sorted(p.tolist()) == list(range(10))
    x = tx.arange(12).reshape(4, 3)
    px = np.array(txr.permutation(x, key=k))
    assert sorted(px[:, 0].tolist()) == [0, 3, 6, 9] and (px[:, 1] - px[:, 0] == 1).all()
    with pytest.raises(ValueError):
        txr.categorical(logits, shape=(2,), num_samples=3)
