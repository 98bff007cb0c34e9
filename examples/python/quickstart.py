"""Quickstart: build a lazy computation in tessera, evaluate it, and check it against NumPy."""

import numpy as np

import tessera.core as tx

x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
a = tx.array(x)
b = tx.exp(a) * 2 - a / 3  # lazy: nothing is computed yet
tx.eval(b)
np.testing.assert_allclose(np.array(b), np.exp(x) * 2 - x / 3, rtol=1e-5)
print("tessera result (row 0):", np.array(b)[0])
print("active memory:", tx.get_active_memory(), "bytes")
