"""C++ exceptions map to Python ones (ValueError, IndexError, TypeError, MemoryError, RuntimeError)."""

import signal
import threading
import time

import numpy as np
import pytest

import tessera.core as tx


def test_invalid_argument_is_value_error():
    with pytest.raises(ValueError, match=r"^\[add\]"):
        tx.array(np.zeros((2, 3))) + tx.array(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"^\[reshape\]"):
        tx.reshape(tx.arange(3), [2, 2])


def test_out_of_range_is_index_error():
    with pytest.raises(IndexError, match=r"\[index\]"):
        tx.arange(3)[5]
    with pytest.raises(IndexError):
        tx.eval(tx.take(tx.arange(3), tx.array([9])))  # raised at evaluation


def test_type_errors():
    with pytest.raises(TypeError):
        tx.array("text")
    with pytest.raises(TypeError):
        tx.array([1, 2]).astype("float32")
    with pytest.raises(TypeError):
        tx.zeros((2,), dtype=3)


def test_out_of_memory_is_memory_error():
    old = tx.set_memory_limit(1 << 20)
    try:
        with pytest.raises(MemoryError):
            tx.eval(tx.zeros((1 << 22,)) + 1)
    finally:
        tx.set_memory_limit(old)
    tx.eval(tx.zeros((1 << 22,)) + 1)  # the interpreter and library keep working


def test_runtime_error_from_lapack():
    with pytest.raises((RuntimeError, ValueError)):
        tx.eval(tx.linalg.cholesky(tx.array([[-1.0, 0.0], [0.0, -1.0]])))


def test_error_in_graph_then_recovery():
    bad = tx.take(tx.arange(3), tx.array([5]))
    with pytest.raises(IndexError):
        bad.tolist()
    assert (tx.arange(3) + 1).tolist() == [1, 2, 3]


def test_ctrl_c_interrupts_a_long_eval():
    # On the CPU, where 60 matmuls of 1024^2 (129 GFLOP) take a second or more on a few cores and
    # well over the signal's 0.1 s on 16 (a GPU would finish them before the signal comes).
    with tx.stream(tx.cpu):
        a = tx.ones((1024, 1024))
        b = a
        for _ in range(60):
            b = b @ a * (1.0 / 1024)
    timer = threading.Timer(0.1, lambda: signal.raise_signal(signal.SIGINT))
    start = time.perf_counter()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            tx.eval(b)
    finally:
        timer.cancel()
    interrupted_after = time.perf_counter() - start
    tx.synchronize()  # the scheduled work still finishes in the background
    assert interrupted_after < time.perf_counter() - start
    np.testing.assert_allclose(np.array(b[:2, :2]), np.ones((2, 2)), rtol=1e-4)
