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
