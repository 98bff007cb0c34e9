"""tessera.core.fast.cuda_kernel: argument checks and the CPU error everywhere; on a GPU, kernels
against NumPy references (the GPU tests run only where a CUDA device is visible)."""

import numpy as np
import pytest

import tessera.core as tx

HAS_GPU = tx.is_available(tx.Device(tx.gpu))

EXP_SOURCE = """
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < inp_shape[0]) out[i] = expf(inp[i]);
"""


def make_exp():
    return tx.fast.cuda_kernel(name="myexp", input_names=["inp"], output_names=["out"], source=EXP_SOURCE)


def call(kernel, a, **kw):
    args = dict(inputs=[a], grid=(a.size, 1, 1), threadgroup=(256, 1, 1), output_shapes=[a.shape],
                output_dtypes=[a.dtype])
    args.update(kw)
    return kernel(**args)


def test_definition_checks():
    with pytest.raises(ValueError, match="cuda_kernel"):
        tx.fast.cuda_kernel(name="my exp", input_names=["inp"], output_names=["out"], source=EXP_SOURCE)
    with pytest.raises(ValueError, match="twice"):
        tx.fast.cuda_kernel(name="k", input_names=["x"], output_names=["x"], source=EXP_SOURCE)
    with pytest.raises(ValueError, match="at least one output"):
        tx.fast.cuda_kernel(name="k", input_names=["x"], output_names=[], source=EXP_SOURCE)
    with pytest.raises(TypeError):
        tx.fast.cuda_kernel(name="k", input_names="x", output_names=["y"], source=1)


def test_call_checks():
    k = make_exp()
    a = tx.array(np.arange(8, dtype=np.float32))
    with pytest.raises(ValueError, match="Expected 1 inputs but got 2"):
        call(k, a, inputs=[a, a], stream=tx.cpu)
    with pytest.raises(ValueError, match="grid must have 3 entries"):
        call(k, a, grid=(8, 1), stream=tx.cpu)
    with pytest.raises(ValueError, match="at most 1024 threads"):
        call(k, a, threadgroup=(2048, 1, 1), stream=tx.cpu)
    with pytest.raises(ValueError, match="output shapes and dtypes"):
        call(k, a, output_dtypes=[tx.float32, tx.float32], stream=tx.cpu)
    with pytest.raises(TypeError, match="template argument 'T'"):
        call(k, a, template=[("T", 1.5)], stream=tx.cpu)
    with pytest.raises(TypeError):  # keyword-only call
        k([a], [a.shape], [a.dtype], (8, 1, 1), (8, 1, 1))


def test_cpu_stream_needs_gpu():
    k = make_exp()
    a = tx.array(np.arange(8, dtype=np.float32))
    with pytest.raises(RuntimeError, match=r"\[cuda_kernel\] needs a GPU"):
        call(k, a, stream=tx.cpu)


def test_verbose_prints_generated_signature(capfd):
    k = tx.fast.cuda_kernel(name="scaled", input_names=["inp"], output_names=["out"],
                            source="out[0] = static_cast<T>(inp[0] * N);")
    a = tx.array(np.ones(4, dtype=np.float16))
    with pytest.raises(RuntimeError):
        call(k, a, template=[("T", tx.float16), ("N", 3), ("B", True)], verbose=True, stream=tx.cpu)
    out = capfd.readouterr().out
    assert 'extern "C" __global__ void tessera_kernel_scaled(const __half* __restrict__ inp, __half* __restrict__ out)' in out
    assert "using T = __half;" in out and "constexpr int N = 3;" in out and "constexpr bool B = true;" in out


@pytest.mark.skipif(not HAS_GPU, reason="needs a CUDA GPU")
def test_gpu_exp_and_template():
    x = np.random.default_rng(0).uniform(-2, 2, 1003).astype(np.float32)
    (y,) = call(make_exp(), tx.array(x), stream=tx.gpu)
    np.testing.assert_allclose(np.array(y), np.exp(x), rtol=1e-6)
    k = tx.fast.cuda_kernel(
        name="axpb", input_names=["a", "b"], output_names=["out", "twice"],
        source="""
        const int i = blockIdx.x * blockDim.x + threadIdx.x;
        if (i >= a_shape[0]) return;
        out[i] = static_cast<T>(static_cast<float>(a[i]) * N + static_cast<float>(b[i]));
        if (DOUBLE) twice[i] = 2.0f * static_cast<float>(a[i]);
        """)
    a = np.linspace(-1, 1, 77).astype(np.float16)
    b = np.linspace(2, 3, 77).astype(np.float16)
    out, twice = k(inputs=[tx.array(a), tx.array(b)], template=[("T", tx.float16), ("N", 4), ("DOUBLE", True)],
                   grid=(77, 1, 1), threadgroup=(32, 1, 1), output_shapes=[(77,), (77,)],
                   output_dtypes=[tx.float16, tx.float32], init_value=0.0, stream=tx.gpu)
    ref = a.astype(np.float32) * 4 + b.astype(np.float32)
    np.testing.assert_allclose(np.array(out).astype(np.float32), ref, rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(np.array(twice), 2 * a.astype(np.float32), rtol=1e-6)
