"""Quantized models: tessera.lm.load(quantization=...), nn.QuantizedLinear / QuantizedEmbedding / quantize,
and conversion (python -m tessera.lm.convert, `tessera convert`) on the stories260K llama2.c model."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import tessera.core as tx
import tessera.nn as nn
from tessera.lm import generate, load
from tessera.lm.convert import convert

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(ROOT, "..", "shared", "data")
STORIES = os.path.join(SHARED, "models", "stories260K")
MODEL = os.path.join(STORIES, "stories260K.bin")
REFERENCE = os.path.join(STORIES, "greedy-empty-prompt.txt")
TOKENS = (np.arange(64) * 7 % 512).reshape(1, 64).astype(np.int32)


def logits(model):
    return np.array(model(tx.array(TOKENS)))


@pytest.fixture(scope="module")
def reference_logits():
    model, _ = load(MODEL)
    return logits(model)


@pytest.mark.parametrize("quantization,limit", [("int8", 0.02), ("int4", 0.5), ("bf16", 0.05)])
def test_load_quantized_logits_close(reference_logits, quantization, limit):
    model, _ = load(MODEL, quantization=quantization)
    err = np.abs(logits(model) - reference_logits).max()
    scale = np.abs(reference_logits).max()
    print(f"{quantization}: max |logit error| {err:.4g} of {scale:.3g}")
    assert 0 < err < limit * scale


def test_load_rejects_unknown_quantization():
    with pytest.raises(ValueError, match="quantization"):
        load(MODEL, quantization="int3")


def test_quantize_ops_round_trip():
    w = tx.random.normal((32, 128), key=tx.random.key(0))
    wq, scales, biases = tx.quantize(w, 64, 4)
    assert wq.dtype == tx.uint32 and tuple(wq.shape) == (32, 16) and tuple(scales.shape) == (32, 2)
    deq = tx.dequantize(wq, scales, biases, 64, 4)
    # Per group of 64: within one quantization step |scale| (half a step, plus up to half a step where
    # MLX's zero-exact bias pushes the far end of the range past the last level and it is clamped).
    err = np.abs(np.array(deq) - np.array(w)).reshape(32, 2, 64).max(axis=2)
    step = np.abs(np.array(scales))
    assert err.max() > 0 and (err <= step + 1e-6).all()
    assert np.median(err / step) <= 0.5 + 1e-6
    x = tx.random.normal((3, 128), key=tx.random.key(1))
    np.testing.assert_allclose(np.array(tx.quantized_matmul(x, wq, scales, biases, True, 64, 4)),
                               np.array(x) @ np.array(deq).T, rtol=1e-4, atol=1e-4)


def test_nn_quantized_layers_and_quantize():
    lin = nn.Linear(128, 16)
    q = nn.QuantizedLinear.from_linear(lin, 64, 8)
    x = tx.random.normal((2, 128), key=tx.random.key(2))
    np.testing.assert_allclose(np.array(q(x)), np.array(lin(x)), atol=0.03)
    assert q.trainable_parameters() == {}
    emb = nn.Embedding(40, 64)
    qe = nn.QuantizedEmbedding.from_embedding(emb, 64, 8)
    ids = tx.array([0, 39, 5])
    np.testing.assert_allclose(np.array(qe(ids)), np.array(emb(ids)), atol=0.02)
    h = tx.random.normal((2, 64), key=tx.random.key(3))
    np.testing.assert_allclose(np.array(qe.as_linear(h)), np.array(emb.as_linear(h)), atol=0.05)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(40, 64)
            self.layers = [nn.Linear(64, 100), nn.Linear(100, 64)]
            self.head = nn.Linear(64, 8)

    net = nn.quantize(Net(), 64, 4,
                      class_predicate=lambda p, m: {"group_size": 32, "bits": 8} if p == "head" else
                      isinstance(m, (nn.Linear, nn.Embedding)) and m["weight"].shape[-1] % 64 == 0)
    assert isinstance(net.embed, nn.QuantizedEmbedding) and net.embed.bits == 4
    assert isinstance(net.layers[0], nn.QuantizedLinear)
    assert isinstance(net.layers[1], nn.Linear) and not isinstance(net.layers[1], nn.QuantizedLinear)
    assert isinstance(net.head, nn.QuantizedLinear) and (net.head.group_size, net.head.bits) == (32, 8)
    with pytest.raises(ValueError, match="Unable to quantize"):
        nn.quantize(nn.Sequential(nn.Linear(64, 64), nn.RMSNorm(64)), 64, 4, class_predicate=lambda p, m: True)
    with pytest.raises(ValueError):
        nn.quantize(Net(), 64, 4, class_predicate=lambda p, m: "yes")


def test_convert_llama2c_round_trip_greedy_identical(tmp_path):
    out = tmp_path / "hf"
    lines = []
    convert(MODEL, out, progress=lines.append)
    assert any("wrote" in l for l in lines)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model_type"] == "llama" and cfg["architectures"] == ["LlamaForCausalLM"]
    model, _ = load(out)
    _, llama2c_tok = load(MODEL)
    with open(REFERENCE, encoding="utf-8") as f:
        ref = f.read()
    text = generate(model, llama2c_tok, [], max_tokens=256)
    assert ref.rstrip("\n") == text.rstrip("\n")


def test_convert_quantized_dir_reload(tmp_path, reference_logits):
    out = tmp_path / "q4"
    convert(MODEL, out, dtype="f16", quantize=True, q_recipe="mixed_4_6")
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["quantization"]["bits"] == 4 and cfg["quantization"]["model.embed_tokens"]["bits"] == 6
    weights = tx.load(str(out / "model.safetensors"))
    assert weights["model.embed_tokens.weight"].dtype == tx.uint32
    assert weights["model.embed_tokens.scales"].dtype == tx.float16
    model, _ = load(out)
    err = np.abs(logits(model) - reference_logits).max()
    assert err < 0.5 * np.abs(reference_logits).max()


def test_convert_module_cli_errors(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "tessera.lm.convert", "--model", MODEL, "--out",
                               str(tmp_path / "x"), *args], capture_output=True, text=True, timeout=300)

    r = run("-q", "--q-bits", "7")
    assert r.returncode == 1 and "bits" in r.stderr
    r = run("--q-recipe", "mixed_9_9")
    assert r.returncode == 2 and "mixed_9_9" in r.stderr
    r = run("-q", "--dequantize")
    assert r.returncode == 1 and "exclude" in r.stderr
    r = run("-q", "--q-bits", "8")
    assert r.returncode == 0 and "[convert] done" in r.stderr
    assert json.loads((tmp_path / "x" / "config.json").read_text())["quantization"]["bits"] == 8


def test_tessera_convert_command(tmp_path):
    exe = os.environ.get("TESSERA_CLI") or shutil.which("tessera") or os.path.join(ROOT, "build", "tessera")
    if not os.path.exists(exe):
        pytest.skip("the tessera command is not built (scripts/build.sh or pip install .)")
    out = tmp_path / "stories.gguf"
    r = subprocess.run([exe, "convert", "--model", MODEL, "--out", str(out), "-q", "--q-bits", "8"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "[convert] wrote" in r.stderr and out.stat().st_size > 0
    r = subprocess.run([exe, "convert", "--model", MODEL, "--out", str(tmp_path / "y"), "--q-bits", "7", "-q"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "bits" in r.stderr
