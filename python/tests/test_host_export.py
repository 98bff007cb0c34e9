"""Writes through exported host buffers (NumPy, memoryview, CPU DLPack imports) reach later kernels,
on the GPU too: an exported buffer's device copy is re-uploaded while the host side is the valid one."""

import numpy as np

import tessera.core as tx


def _gpu_or_cpu():
    return tx.Device(tx.gpu) if tx.is_available(tx.Device(tx.gpu)) else tx.Device(tx.cpu)


def test_numpy_writes_after_an_upload_are_seen():
    dev = _gpu_or_cpu()
    a = tx.array([1.0, 2.0, 3.0, 4.0])
    tx.eval(tx.add(a, 1.0, stream=dev))  # on a GPU: a gets a device copy
    n = np.asarray(a)
    n[0] = 10.0
    assert tx.add(a, 1.0, stream=dev).tolist() == [11.0, 3.0, 4.0, 5.0]
    n[1] = 20.0  # after the upload made by the line above
    assert tx.multiply(a, 2.0, stream=dev).tolist() == [20.0, 40.0, 6.0, 8.0]


def test_memoryview_writes_are_seen():
    dev = _gpu_or_cpu()
    a = tx.array([1.0, 2.0, 3.0])
    tx.eval(tx.add(a, 1.0, stream=dev))
    m = memoryview(a)
    m[2] = 30.0
    assert tx.add(a, 1.0, stream=dev).tolist() == [2.0, 3.0, 31.0]
    tx.eval(tx.add(a, 1.0, stream=dev))
    m[0] = -1.0
    assert tx.add(a, 1.0, stream=dev).tolist() == [0.0, 3.0, 31.0]


def test_producer_writes_to_an_aliased_dlpack_import_are_seen():
    dev = _gpu_or_cpu()
    x = np.ones(5, np.float32)
    b = tx.from_dlpack(x)  # aliases x
    assert tx.add(b, 1.0, stream=dev).tolist() == [2.0] * 5
    x[3] = 7.0
    assert tx.add(b, 1.0, stream=dev).tolist() == [2.0, 2.0, 2.0, 8.0, 2.0]
