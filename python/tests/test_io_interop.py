"""Reads files written by tessera's C++ io (tests/io_tests.cpp, IoInterop.WriteFilesForPythonReaders)
with independent readers: numpy, safetensors and gguf-py. scripts/test.sh runs the C++ tests first."""
import json
import os

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "build", "io_interop")
if not os.path.exists(os.path.join(OUT, "tessera.gguf")):
    pytest.skip("run ./build/tessera_tests --gtest_filter=IoInterop* first", allow_module_level=True)

DTYPES = ["bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "float16", "float32",
          "float64"]


def formula(dtype, shape=(2, 3, 4)):
    """Same formulas as tests/io_test_utils.h and tests/fixtures/io/make_fixtures.py."""
    n = int(np.prod(shape))
    i = np.arange(n)
    s = (i * 7 % 23) - 11
    dt = np.dtype(dtype)
    if dt == np.bool_:
        v = i % 3 == 0
    elif dt.kind == "u":
        v = i * 7 % 23
    elif dt.kind == "i":
        v = s
    elif dt.kind == "f":
        v = s / 4
    else:
        v = s / 4 + 1j * (((i + 1) * 7 % 23) - 11) / 8
    return v.astype(dt).reshape(shape)


def test_safetensors_package_reads_tessera_file():
    from safetensors import safe_open
    from safetensors.numpy import load_file
    arrays = load_file(os.path.join(OUT, "tessera.safetensors"))
    for d in DTYPES:
        np.testing.assert_array_equal(arrays[d], formula(d))
        assert arrays[d].dtype == np.dtype(d)
    np.testing.assert_array_equal(arrays["strided"], formula("float32", (4, 6)).T)
    with safe_open(os.path.join(OUT, "tessera.safetensors"), framework="numpy") as f:
        assert f.metadata() == {"writer": "tessera"}


def test_bf16_safetensors_bits():
    with open(os.path.join(OUT, "bf16.safetensors"), "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    info = header["bf16"]
    assert info["dtype"] == "BF16" and info["shape"] == [2, 3, 4]
    b, e = info["data_offsets"]
    bits = np.frombuffer(raw[8 + n + b:8 + n + e], dtype="<u2").astype(np.uint32) << 16
    np.testing.assert_array_equal(bits.view(np.float32).reshape(2, 3, 4), formula("float32"))


def test_numpy_reads_tessera_npy_and_npz():
    for d in DTYPES + ["complex64"]:
        a = np.load(os.path.join(OUT, f"npy_{d}.npy"))
        assert a.dtype == np.dtype(d)
        np.testing.assert_array_equal(a, formula(d))
    with np.load(os.path.join(OUT, "arrays.npz")) as z:
        assert sorted(z.files) == ["f", "i"]
        np.testing.assert_array_equal(z["f"], formula("float32"))
        np.testing.assert_array_equal(z["i"], formula("int64"))


def test_gguf_py_reads_tessera_gguf():
    from gguf import GGUFReader, GGUFValueType
    from gguf.quants import dequantize
    r = GGUFReader(os.path.join(OUT, "tessera.gguf"))
    fields = r.fields
    assert fields["general.architecture"].contents() == "tessera"
    assert fields["t.u8"].types == [GGUFValueType.UINT8] and fields["t.u8"].contents() == 200
    assert fields["t.i64"].types == [GGUFValueType.INT64] and fields["t.i64"].contents() == -5
    assert fields["t.f64"].contents() == 0.125
    assert fields["t.bool"].contents() is True
    assert fields["t.str"].contents() == "hé"
    assert fields["t.strs"].contents() == ["a", "bc"]
    assert fields["t.nested"].types[:2] == [GGUFValueType.ARRAY, GGUFValueType.ARRAY]
    tensors = {t.name: t for t in r.tensors}
    for d in ["float32", "float16", "float64", "int8", "int16", "int32", "int64"]:
        t = tensors[f"plain.{d}"]
        np.testing.assert_array_equal(np.asarray(t.data).reshape(2, 3, 4), formula(d))
    bf = np.asarray(tensors["plain.bfloat16"].data).view(np.uint16).astype(np.uint32) << 16
    np.testing.assert_array_equal(bf.view(np.float32).reshape(2, 3, 4), formula("float32"))

    x = np.load(os.path.join(OUT, "quant_input.npy"))
    names = [n[2:] for n in tensors if n.startswith("q.")]
    assert len(names) == 13
    for name in names:
        t = tensors["q." + name]
        assert t.tensor_type.name == name
        assert [int(v) for v in t.shape] == [512, 4]  # GGUF lists the innermost dim first
        ours = np.load(os.path.join(OUT, f"dequant_{name}.npy"))
        blocks = np.asarray(t.data)
        if name == "Q8_K":  # gguf-py has no Q8_K dequantizer: float32 d, int8 qs[256], int16 bsums[16]
            b = blocks.reshape(-1, 292)
            d = b[:, :4].copy().view(np.float32)
            qs = b[:, 4:260].copy().view(np.int8).astype(np.float32)
            bsums = b[:, 260:].copy().view(np.int16)
            np.testing.assert_array_equal(bsums, qs.reshape(-1, 16, 16).sum(-1).astype(np.int16))
            theirs = (d * qs).reshape(4, 512)
        else:
            theirs = dequantize(blocks, t.tensor_type).reshape(4, 512)
        np.testing.assert_allclose(theirs, ours, rtol=1e-6, atol=1e-7, err_msg=name)
        assert np.abs(theirs - x).max() < 0.45, name  # Q2_K, the coarsest, loses up to a third
