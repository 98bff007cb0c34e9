"""Shared helpers for the tessera Python tests."""

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def assert_close(a, b, rtol=1e-5, atol=1e-6):
    """Compares a tessera array (or anything array-like) with a NumPy reference, dtype-aware."""
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)
