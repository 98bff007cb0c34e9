"""tessera.core.load / save / savez / savez_compressed / save_safetensors / save_gguf: round trips vs NumPy,
and files read/written by independent libraries (numpy, safetensors, gguf-py)."""

import pathlib

import numpy as np
import pytest

import tessera.core as tx

NP_DTYPES = [np.bool_, np.uint8, np.uint16, np.uint32, np.uint64, np.int8, np.int16, np.int32, np.int64,
             np.float16, np.float32, np.float64]


def sample(dtype, shape=(2, 3, 4), seed=0):
    rng = np.random.default_rng(seed)
    if dtype == np.bool_:
        return rng.random(shape) > 0.5
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(max(info.min, -1000), min(info.max, 1000), size=shape, endpoint=True).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", NP_DTYPES, ids=lambda d: np.dtype(d).name)
def test_npy_roundtrip_and_numpy_interop(tmp_path, dtype):
    x = sample(dtype)
    tx.save(tmp_path / "a", tx.array(x))  # pathlib.Path, extension appended as MLX does
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), x)
    np.save(tmp_path / "b.npy", x)
    y = tx.load(str(tmp_path / "b.npy"))
    assert isinstance(y, tx.array)
    np.testing.assert_array_equal(np.array(y), x)


@pytest.mark.parametrize("compressed", [False, True])
def test_npz_roundtrip_and_numpy_interop(tmp_path, compressed):
    arrays = {np.dtype(d).name: sample(d, seed=i) for i, d in enumerate(NP_DTYPES)}
    save = tx.savez_compressed if compressed else tx.savez
    save(tmp_path / "a.npz", tx.array(arrays["float32"]), **{k: tx.array(v) for k, v in arrays.items()})
    with np.load(tmp_path / "a.npz") as z:
        np.testing.assert_array_equal(z["arr_0"], arrays["float32"])
        for k, v in arrays.items():
            np.testing.assert_array_equal(z[k], v)
    (np.savez_compressed if compressed else np.savez)(tmp_path / "b.npz", **arrays)
    loaded = tx.load(tmp_path / "b.npz")
    assert set(loaded) == set(arrays)
    for k, v in arrays.items():
        np.testing.assert_array_equal(np.array(loaded[k]), v)


def test_safetensors_roundtrip_every_dtype_and_metadata(tmp_path):
    arrays = {np.dtype(d).name: tx.array(sample(d, seed=i)) for i, d in enumerate(NP_DTYPES)}
    arrays["bf16"] = tx.array(sample(np.float32)).astype(tx.bfloat16)
    tx.save_safetensors(tmp_path / "m", arrays, metadata={"format": "pt", "note": "héllo"})
    loaded, meta = tx.load(tmp_path / "m.safetensors", return_metadata=True)
    assert meta == {"format": "pt", "note": "héllo"}
    assert set(loaded) == set(arrays)
    for k, v in arrays.items():
        assert loaded[k].dtype == v.dtype and loaded[k].shape == v.shape
        assert tx.array_equal(loaded[k], v).item()


def test_safetensors_interop_with_pypi_package(tmp_path):
    st = pytest.importorskip("safetensors.numpy", reason="pip install safetensors (scripts/install_deps.sh)")
    ref = {"w": sample(np.float32, (3, 5)), "i": sample(np.int64, (7,)), "h": sample(np.float16, (2, 2))}
    st.save_file(ref, str(tmp_path / "ref.safetensors"), metadata={"k": "v"})
    loaded, meta = tx.load(tmp_path / "ref.safetensors", return_metadata=True)
    assert meta == {"k": "v"}
    for k, v in ref.items():
        np.testing.assert_array_equal(np.array(loaded[k]), v)
    tx.save_safetensors(str(tmp_path / "tx.safetensors"), {k: tx.array(v) for k, v in ref.items()})
    back = st.load_file(str(tmp_path / "tx.safetensors"))
    for k, v in ref.items():
        np.testing.assert_array_equal(back[k], v)


def test_gguf_roundtrip_with_typed_metadata(tmp_path):
    arrays = {"f32": tx.array(sample(np.float32, (4, 8))), "f16": tx.array(sample(np.float16, (3,))),
              "i32": tx.array(sample(np.int32, (5,)))}
    meta = {"general.name": "tiny", "tokens": ["a", "b", "c"], "n": 7, "big": 2**40, "eps": 0.5, "flag": True,
            "u16": tx.array(12, dtype=tx.uint16), "vec": tx.array([1.5, 2.5], dtype=tx.float64)}
    tx.save_gguf(tmp_path / "m.gguf", arrays, meta)
    loaded, md = tx.load(tmp_path / "m.gguf", return_metadata=True)
    for k, v in arrays.items():
        assert tx.array_equal(loaded[k], v).item()
    assert md["general.name"] == "tiny" and md["tokens"] == ["a", "b", "c"]
    assert md["n"].dtype == tx.int32 and md["n"].item() == 7
    assert md["big"].dtype == tx.int64 and md["big"].item() == 2**40
    assert md["eps"].dtype == tx.float32 and md["eps"].item() == 0.5
    assert md["flag"].item() is True
    assert md["u16"].dtype == tx.uint16 and md["u16"].item() == 12
    np.testing.assert_array_equal(np.array(md["vec"]), [1.5, 2.5])


def test_gguf_readable_by_gguf_py(tmp_path):
    gguf = pytest.importorskip("gguf", reason="pip install gguf (scripts/install_deps.sh)")
    w = sample(np.float32, (4, 6))
    tx.save_gguf(tmp_path / "m.gguf", {"w": tx.array(w)}, {"general.name": "x", "n": 3})
    r = gguf.GGUFReader(str(tmp_path / "m.gguf"))
    t = {t.name: t for t in r.tensors}["w"]
    np.testing.assert_array_equal(np.array(t.data).reshape(4, 6), w)
    f = r.fields["n"]
    assert int(f.parts[f.data[0]][0]) == 3


def test_format_argument_and_errors(tmp_path):
    x = sample(np.float32, (3,))
    np.save(tmp_path / "x.npy", x)
    (tmp_path / "x.npy").rename(tmp_path / "x.bin")
    np.testing.assert_array_equal(np.array(tx.load(tmp_path / "x.bin", format="npy")), x)
    with pytest.raises(ValueError, match=r"\[load\]"):
        tx.load(tmp_path / "x.bin")
    with pytest.raises(ValueError, match=r"\[load\] metadata"):
        tx.load(tmp_path / "x.bin", format="npy", return_metadata=True)
    (tmp_path / "bad.safetensors").write_bytes(b"\xff" * 20)
    with pytest.raises(Exception, match=r"\[safetensors\]"):
        tx.load(tmp_path / "bad.safetensors")
    with pytest.raises(TypeError, match=r"\[safetensors\]"):
        tx.save_safetensors(tmp_path / "m.safetensors", {"a": tx.zeros((2,))}, metadata={"k": 1})
    with pytest.raises(Exception, match=r"\[npy\]"):
        tx.save(tmp_path / "b.npy", tx.zeros((2,), dtype=tx.bfloat16))
    with pytest.raises(Exception):
        tx.load(pathlib.Path(tmp_path / "missing.npz"))


def test_real_gguf_metadata_roundtrip(tmp_path):
    path = pathlib.Path(__file__).resolve().parents[3] / "shared" / "data" / "models" / "gguf" / "llama-2-tiny-random.gguf"
    if not path.exists():
        pytest.skip(f"{path} is missing (shared data)")
    arrays, md = tx.load(path, return_metadata=True)
    assert md["general.architecture"] == "llama" and md["tokenizer.ggml.tokens"][:3] == ["<unk>", "<s>", "</s>"]
    assert md["llama.context_length"].dtype == tx.uint32 and md["llama.context_length"].item() == 4096
    assert md["tokenizer.ggml.scores"].shape == (32000,) and md["tokenizer.ggml.scores"].dtype == tx.float32
    tx.save_gguf(tmp_path / "copy.gguf", arrays, md)
    arrays2, md2 = tx.load(tmp_path / "copy.gguf", return_metadata=True)
    assert set(md2) == set(md) and set(arrays2) == set(arrays)
    for k, v in md.items():
        if isinstance(v, tx.array):
            assert v.dtype == md2[k].dtype and tx.array_equal(v, md2[k]).item(), k
        else:
            assert v == md2[k], k
    for k, v in arrays.items():
        assert tx.array_equal(v, arrays2[k]).item(), k
