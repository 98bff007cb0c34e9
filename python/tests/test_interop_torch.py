"""torch interop: DLPack round trips for every dtype both have, strided tensors, shared memory, the
NumPy bridge, and (on a CUDA machine) GPU tensors both ways without a host copy."""

import numpy as np
import pytest

import tessera.core as tx

torch = pytest.importorskip("torch")

DTYPES = [
    (torch.bool, tx.bool_), (torch.int8, tx.int8), (torch.int16, tx.int16), (torch.int32, tx.int32),
    (torch.int64, tx.int64), (torch.uint8, tx.uint8), (torch.float16, tx.float16),
    (torch.bfloat16, tx.bfloat16), (torch.float32, tx.float32), (torch.float64, tx.float64),
    (torch.complex64, tx.complex64),
]
DTYPE_IDS = [str(t).removeprefix("torch.") for t, _ in DTYPES]


def sample(tdtype, shape=(3, 5), device="cpu", seed=0):
    g = torch.Generator().manual_seed(seed)
    if tdtype == torch.bool:
        t = torch.rand(shape, generator=g) > 0.5
    elif tdtype.is_complex:
        t = torch.complex(torch.randn(shape, generator=g), torch.randn(shape, generator=g)).to(tdtype)
    elif tdtype.is_floating_point:
        t = (torch.randn(shape, generator=g) * 10).to(tdtype)
    else:
        lo = 0 if tdtype == torch.uint8 else -100
        t = torch.randint(lo, 100, shape, generator=g).to(tdtype)
    return t.to(device)


def host_values(a):
    """tessera's values as nested Python lists (read through tessera's host path, not DLPack)."""
    return a.tolist()


def torch_values(t):
    t = t.cpu()
    return (t.float() if t.dtype == torch.bfloat16 else t).tolist()


# ---- CPU --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("tdtype, xdtype", DTYPES, ids=DTYPE_IDS)
def test_roundtrip_preserves_values_and_dtype(tdtype, xdtype):
    t = sample(tdtype)
    for a in (tx.array(t), tx.from_dlpack(t)):
        assert a.dtype == xdtype and a.shape == tuple(t.shape)
        assert host_values(a) == torch_values(t)
        back = torch.from_dlpack(a)
        assert back.dtype == tdtype and back.device.type == "cpu"
        assert torch.equal(back, t)


@pytest.mark.parametrize("tdtype, xdtype", DTYPES, ids=DTYPE_IDS)
def test_tessera_results_export_to_torch(tdtype, xdtype):
    t = sample(tdtype, (4, 6))
    a = tx.array(t)[1:, ::2]  # a strided view computed by tessera
    back = torch.from_dlpack(a)
    assert back.dtype == tdtype and tuple(back.shape) == a.shape
    assert torch.equal(back.cpu(), t[1:, ::2])
    assert torch_values(back) == host_values(a)


@pytest.mark.parametrize("tdtype, xdtype", DTYPES, ids=DTYPE_IDS)
def test_non_contiguous_torch_tensors(tdtype, xdtype):
    base = sample(tdtype, (6, 8))
    for t in (base.T, base[::2, 1::3], base[:, 2], base.unsqueeze(0).expand(2, 6, 8)):
        assert not t.is_contiguous()
        for a in (tx.array(t), tx.from_dlpack(t)):
            assert a.dtype == xdtype and a.shape == tuple(t.shape)
            assert host_values(a) == torch_values(t)


def test_dlpack_shares_memory_both_ways():
    # tessera -> torch: the tensor is a view of the evaluated array.
    a = tx.array(np.arange(12, dtype=np.float32).reshape(3, 4))
    t = torch.from_dlpack(a)
    t[1, 2] = -5.0
    assert a[1, 2].item() == -5.0
    # torch -> tessera with from_dlpack: the array aliases the tensor (the producer is kept alive).
    src = torch.arange(8, dtype=torch.float32)
    b = tx.from_dlpack(src)
    src[3] = 100.0
    assert b[3].item() == 100.0
    del src
    import gc
    gc.collect()
    assert b.tolist() == [0.0, 1.0, 2.0, 100.0, 4.0, 5.0, 6.0, 7.0]
    # tx.array copies (MLX semantics), and so does from_dlpack(copy=True).
    src = torch.zeros(4)
    c, d = tx.array(src), tx.from_dlpack(src, copy=True)
    src[0] = 1.0
    assert c.tolist() == [0.0] * 4 and d.tolist() == [0.0] * 4


def test_results_of_ops_on_shared_memory_do_not_write_into_it():
    src = torch.ones(16)
    b = tx.from_dlpack(src)
    c = tx.exp(b) + 1  # donation must never hand the producer's memory to a kernel as output
    tx.eval(c)
    assert torch.equal(src, torch.ones(16))
    np.testing.assert_allclose(np.array(c), np.full(16, np.e + 1, np.float32), rtol=1e-6)


def test_seed_conversion_examples():
    t = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    a = tx.array(t.numpy())
    assert a.dtype == tx.float32 and a.tolist() == t.tolist()
    b = tx.exp(a)
    assert torch.allclose(torch.from_numpy(np.array(b)), torch.exp(t))
    assert torch.allclose(torch.from_numpy(b.numpy()), torch.exp(t))
    assert torch.allclose(torch.from_dlpack(b).cpu(), torch.exp(t))


def test_dlpack_device_and_protocol_arguments():
    a = tx.array(np.arange(4, dtype=np.float32))
    assert a.__dlpack_device__() == (1, 0)
    assert torch.equal(torch.from_dlpack(a.__dlpack__(max_version=(1, 0), dl_device=(1, 0))), torch.arange(4.0))
    fresh = torch.from_dlpack(a.__dlpack__(copy=True))
    fresh[0] = 9.0
    assert a[0].item() == 0.0
    with pytest.raises(BufferError):
        a.__dlpack__(dl_device=(7, 0))


# ---- CUDA -------------------------------------------------------------------------------------------

def tessera_has_gpu():
    try:
        return tx.is_available(tx.Device(tx.gpu))
    except Exception:
        return False


cuda = pytest.mark.skipif(not (torch.cuda.is_available() and tessera_has_gpu()),
                          reason="needs a CUDA GPU in torch and a CUDA build of tessera")


@cuda
@pytest.mark.parametrize("tdtype, xdtype", DTYPES, ids=DTYPE_IDS)
def test_cuda_tensor_to_tessera(tdtype, xdtype):
    t = sample(tdtype, (33, 17), device="cuda", seed=1)
    for a in (tx.array(t), tx.from_dlpack(t)):
        assert a.dtype == xdtype and a.shape == tuple(t.shape)
        assert a.__dlpack_device__() == (2, 0)  # imported without a host round trip
        assert host_values(a) == torch_values(t)
    # Strided CUDA tensors too.
    s = t.T[::2]
    for a in (tx.array(s), tx.from_dlpack(s)):
        assert host_values(a) == torch_values(s)


@cuda
def test_cuda_tensor_feeds_gpu_ops():
    t = torch.randn(256, 64, device="cuda")
    w = torch.randn(64, 32, device="cuda")
    t0 = t.clone()
    a, b = tx.from_dlpack(t), tx.array(w)
    c = tx.matmul(tx.exp(a * 0.1), b, stream=tx.gpu)
    want = torch.exp(t * 0.1) @ w
    got = torch.from_dlpack(c)
    assert got.device.type == "cuda"
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    assert torch.equal(t, t0)  # the shared input was not written


@cuda
@pytest.mark.parametrize("tdtype, xdtype", DTYPES, ids=DTYPE_IDS)
def test_tessera_gpu_array_to_torch(tdtype, xdtype):
    x = sample(tdtype, (9, 13), seed=2)
    host = tx.array(x)
    a = tx.copy(host, stream=tx.gpu)  # computed on the GPU: its valid copy lives there only
    assert a.__dlpack_device__() == (2, 0)
    t = torch.from_dlpack(a)
    assert t.device.type == "cuda" and t.dtype == tdtype
    assert torch.equal(t.cpu(), x)
    # No host copy: the tensor aliases tessera's device buffer, whose host side is still absent.
    assert a.__dlpack_device__() == (2, 0)
    v = torch.from_dlpack(tx.transpose(a, stream=tx.gpu))  # a strided device view
    assert torch.equal(v.cpu(), x.T)


@cuda
def test_gpu_dlpack_shares_device_memory():
    a = tx.multiply(tx.arange(8, dtype=tx.float32), 2.0, stream=tx.gpu)
    t = torch.from_dlpack(a)
    assert t.device.type == "cuda" and torch.from_dlpack(a).data_ptr() == t.data_ptr()  # one buffer
    t[0] = -1.0  # written on the device, seen by tessera's next (host) read
    torch.cuda.synchronize()
    assert a.tolist() == [-1.0] + [2.0 * i for i in range(1, 8)]
    # That read made a valid host copy, which exports prefer from now on (zero-copy as well).
    assert a.__dlpack_device__() == (1, 0)
    src = torch.zeros(4, device="cuda")
    b = tx.from_dlpack(src)
    src[1] = 3.0
    torch.cuda.synchronize()
    assert b.tolist() == [0.0, 3.0, 0.0, 0.0]
    # Consumer streams: a side stream may read the export at once.
    s = torch.cuda.Stream()
    with torch.cuda.stream(s):
        u = torch.from_dlpack(tx.exp(a, stream=tx.gpu)) + 0
    s.synchronize()
    torch.testing.assert_close(u.cpu(), torch.exp(torch.from_dlpack(a).cpu()))
