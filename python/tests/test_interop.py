"""NumPy, buffer and DLPack interop: zero-copy export, copies on import, bfloat16, torch if present."""

import numpy as np
import pytest

import tessera.core as tx


def test_numpy_export_is_zero_copy_and_writable(rng):
    a = tx.array(rng.standard_normal((3, 4)).astype(np.float32))
    v1, v2 = a.numpy(), np.asarray(a)
    assert np.shares_memory(v1, v2)
    v1[0, 0] = 42.0  # documented: the view shares the evaluated buffer (as MLX's zero-copy views)
    assert a[0, 0].item() == 42.0
    c = np.array(a)  # np.array copies (NumPy semantics)
    assert not np.shares_memory(c, v1)


def test_numpy_export_of_views_keeps_strides():
    a = tx.arange(12).reshape(3, 4)
    t = np.asarray(a.T)
    np.testing.assert_array_equal(t, np.arange(12).reshape(3, 4).T)
    assert np.shares_memory(t, np.asarray(a))
    s = np.asarray(a[:, ::-2])
    np.testing.assert_array_equal(s, np.arange(12).reshape(3, 4)[:, ::-2])
    b = np.asarray(tx.broadcast_to(tx.array([1, 2]), (3, 2)))
    np.testing.assert_array_equal(b, [[1, 2]] * 3)


def test_export_keeps_array_alive():
    v = tx.arange(1000).numpy()
    import gc
    gc.collect()
    assert v.sum() == 999 * 1000 // 2


def test_array_protocol_dtype_argument():
    a = tx.array([1, 2])
    assert np.asarray(a, dtype=np.float64).dtype == np.float64
    assert np.array(a, copy=True).tolist() == [1, 2]


def test_bfloat16_to_numpy_raises_with_hint():
    a = tx.array([1.0, 2.0], tx.bfloat16)
    with pytest.raises(TypeError, match="bfloat16"):
        a.numpy()
    with pytest.raises(TypeError):
        np.asarray(a)
    np.testing.assert_array_equal(np.array(a.astype(tx.float32)), [1.0, 2.0])
    assert a.tolist() == [1.0, 2.0]


def test_float16_roundtrip():
    x = np.array([0.5, 1.5, -2.25], np.float16)
    a = tx.array(x)
    assert a.dtype == tx.float16
    assert np.array(a).dtype == np.float16 and np.array_equal(np.array(a), x)


def test_dlpack_roundtrip_with_numpy(rng):
    x = rng.standard_normal((4, 3)).astype(np.float32)
    a = tx.array(x)
    assert a.__dlpack_device__() == (1, 0)
    y = np.from_dlpack(a)
    np.testing.assert_array_equal(y, x)
    assert np.shares_memory(y, np.asarray(a))
    b = tx.from_dlpack(x)  # NumPy arrays implement __dlpack__
    np.testing.assert_array_equal(np.array(b), x)
    c = tx.from_dlpack(x.__dlpack__())  # a raw capsule
    np.testing.assert_array_equal(np.array(c), x)
    d = tx.from_dlpack(a)
    np.testing.assert_array_equal(np.array(d), x)
    np.testing.assert_array_equal(np.from_dlpack(a.T), x.T)


def test_seed_patterns_with_numpy():
    t = np.arange(6, dtype=np.float32).reshape(2, 3)
    a = tx.array(t)
    back1 = np.asarray(np.array(a))
    back2 = a.numpy()
    np.testing.assert_array_equal(back1, t)
    np.testing.assert_array_equal(back2, t)


def test_torch_interop():
    torch = pytest.importorskip("torch")
    t = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    a = tx.array(t.numpy())
    assert torch.equal(torch.from_numpy(np.array(a)), t)
    assert torch.equal(torch.from_numpy(a.numpy()), t)
    assert torch.equal(torch.from_dlpack(a), t)
    assert tx.from_dlpack(t).tolist() == t.tolist()
    bf = tx.array([1.0, 2.0], tx.bfloat16)
    assert torch.from_dlpack(bf).dtype == torch.bfloat16
    assert tx.array(torch.tensor([1.5], dtype=torch.bfloat16)).dtype == tx.bfloat16


def test_buffer_protocol():
    a = tx.arange(6).reshape(2, 3)
    m = memoryview(a)
    assert m.format == "i" and m.shape == (2, 3) and m.tolist() == [[0, 1, 2], [3, 4, 5]]
    t = memoryview(a.T)  # strided view, shared
    assert t.shape == (3, 2) and t.tolist() == [[0, 3], [1, 4], [2, 5]]
    assert bytes(tx.array([1, 2], tx.uint8)) == b"\x01\x02"
    h = memoryview(tx.array([1.5], tx.float16))
    assert h.format == "e" and np.asarray(h).tolist() == [1.5]
    with pytest.raises(BufferError):
        memoryview(tx.array([1.0], tx.bfloat16))


def test_from_dlpack_shares_writable_host_memory():
    x = np.arange(6, dtype=np.float32)
    a = tx.from_dlpack(x)  # aliases x (the producer is kept alive), as the array API's from_dlpack
    x[2] = 50.0
    assert a[2].item() == 50.0
    del x
    import gc
    gc.collect()
    assert a.tolist() == [0.0, 1.0, 50.0, 3.0, 4.0, 5.0]
    y = np.ones(8, np.float32)
    b = tx.exp(tx.from_dlpack(y)) + 1  # kernels never write their result into the producer's memory
    tx.eval(b)
    np.testing.assert_array_equal(y, np.ones(8, np.float32))
    np.testing.assert_allclose(np.array(b), np.full(8, np.e + 1, np.float32), rtol=1e-6)


def test_from_dlpack_copies_when_it_must_or_is_asked():
    x = np.arange(4, dtype=np.int32)
    c = tx.from_dlpack(x, copy=True)
    x[0] = 9
    assert c.tolist() == [0, 1, 2, 3]
    r = np.arange(4, dtype=np.int32)
    r.flags.writeable = False  # read-only memory is never aliased
    d = tx.from_dlpack(r)
    assert d.tolist() == [0, 1, 2, 3]
    s = np.arange(12, dtype=np.float64).reshape(3, 4)[:, ::2]  # strided: copied
    np.testing.assert_array_equal(np.array(tx.from_dlpack(s)), s)
    e = tx.array(np.arange(3, dtype=np.float32))  # tx.array always copies
    assert not np.shares_memory(np.asarray(e), np.arange(3, dtype=np.float32))


def test_dlpack_protocol_arguments():
    a = tx.array(np.arange(4, dtype=np.float32))
    y = tx.from_dlpack(a.__dlpack__(max_version=(1, 0), dl_device=(1, 0), stream=None))  # a capsule
    z = tx.from_dlpack(a.__dlpack__(copy=True))
    np.asarray(a)[1] = 7.0
    assert y.tolist() == [0.0, 7.0, 2.0, 3.0]  # shared
    assert z.tolist() == [0.0, 1.0, 2.0, 3.0]  # copied by the producer
    with pytest.raises(BufferError, match="dlpack"):
        a.__dlpack__(dl_device=(7, 0))
    with pytest.raises(TypeError):
        a.__dlpack__(1)  # keyword-only, as the protocol says


@pytest.mark.skipif(tx.is_available(tx.Device(tx.gpu)), reason="this build has a GPU")
def test_cuda_producer_without_a_gpu_raises_clearly():
    """Built without CUDA, or with CUDA on a machine without a GPU (as in CI): a clear error, and the
    producer is never asked for its device memory."""
    class FakeCudaTensor:
        def __dlpack_device__(self):
            return (2, 0)

        def __dlpack__(self, **kwargs):
            raise AssertionError("must not be asked for its memory")

    with pytest.raises(TypeError, match="without CUDA|no GPU is available"):
        tx.array(FakeCudaTensor())
    with pytest.raises(TypeError, match="without CUDA|no GPU is available"):
        tx.from_dlpack(FakeCudaTensor())
    # Without CUDA every array lives on the host.
    assert tx.exp(tx.ones((3,))).__dlpack_device__() == (1, 0)
    with pytest.raises(BufferError, match="without CUDA|no GPU is available"):
        tx.ones((3,)).__dlpack__(dl_device=(2, 0))
