"""The LLM tools: perplexity and KL divergence (Python API, python -m and the tessera command) against a
NumPy float64 log-softmax, Hugging Face cache resolution and download errors, and custom model loading
(tessera.lm.models)."""

import json
import math
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import tessera.core as tx
from tessera.lm import download, generate, kl_divergence, load, perplexity, stream_generate
from tessera.lm.models import Llama
from tessera.lm.utils import load_tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL_DIR = os.path.join(ROOT, "models", "stories260K")
MODEL = os.path.join(MODEL_DIR, "stories260K.bin")
SHARED = os.path.join(ROOT, "..", "shared", "data")
GREEDY = os.path.join(SHARED, "models", "stories260K", "greedy-empty-prompt.txt")
SHAKESPEARE = os.path.join(SHARED, "corpora", "tinyshakespeare.txt")
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "hf_models", "llama")
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def tessera_cmd():
    exe = os.environ.get("TESSERA_CLI") or shutil.which("tessera") or os.path.join(ROOT, "build", "tessera")
    if not os.path.exists(exe):
        pytest.skip("the tessera command is not built (scripts/build.sh or pip install .)")
    return exe


def story_text():
    with open(GREEDY, encoding="utf-8") as f:
        text = f.read()
    return "\n".join([text] * 3)


@pytest.fixture(scope="module")
def stories():
    return load(MODEL)


def windows(n, context, stride):
    """Independent of tessera: (begin, end, first scored) of each forward pass; every token 1..n-1 once."""
    out, scored_until, begin = [], 1, 0
    while scored_until < n:
        end = min(begin + context, n)
        first = max(begin + 1, scored_until)
        if first < end:
            out.append((begin, end, first))
            scored_until = end
        begin += stride
    return out


def log_softmax64(logits):
    x = np.asarray(logits, dtype=np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def reference_logp(model, ids, context, stride):
    """(n_scored, V) float64 log-probabilities of each scored token's prediction, and the targets."""
    rows, targets = [], []
    for begin, end, first in windows(len(ids), context, stride):
        logits = np.array(model(tx.array([ids[begin:end]], dtype=tx.int32)))[0]
        lp = log_softmax64(logits)
        rows.append(lp[first - 1 - begin:end - 1 - begin])
        targets.extend(ids[first:end])
    return np.concatenate(rows), np.array(targets)


def perturbed_llama2c(tmp_path, eps, seed=0):
    """A copy of stories260K.bin with every weight scaled by (1 + eps * u), u uniform in [-1, 1), next to
    a copy of its tokenizer."""
    raw = np.fromfile(MODEL, dtype=np.uint8)
    header, weights = raw[:28], raw[28:].view(np.float32).copy()
    weights *= 1 + eps * np.random.default_rng(seed).uniform(-1, 1, weights.shape).astype(np.float32)
    d = tmp_path / f"noisy{eps}"
    d.mkdir()
    with open(d / "model.bin", "wb") as f:
        f.write(header.tobytes())
        f.write(weights.tobytes())
    shutil.copy(os.path.join(MODEL_DIR, "tok512.bin"), d / "tok512.bin")
    return str(d / "model.bin")


# --- perplexity ------------------------------------------------------------------------------------------

def test_windows_and_token_nll_hand_checked():
    assert tx.lm.perplexity_windows(10, 4, 4) == [(0, 4, 1), (4, 8, 5), (8, 10, 9)]
    assert tx.lm.perplexity_windows(10, 4, 2) == [(0, 4, 1), (2, 6, 4), (4, 8, 6), (6, 10, 8)]
    assert tx.lm.perplexity_windows(10, 4, 2) == windows(10, 4, 2)
    # p = (1/4, 3/4) -> -log(3/4); uniform over 4 -> log 4.
    logits = tx.array([[0.0, math.log(3.0), -1e9, -1e9], [1.0, 1.0, 1.0, 1.0]])
    nll = np.array(tx.lm.token_nll(logits, [1, 3]))
    np.testing.assert_allclose(nll, [math.log(4 / 3), math.log(4)], rtol=1e-6)
    np.testing.assert_allclose(-log_softmax64(np.array(logits))[[0, 1], [1, 3]], nll, rtol=1e-6)
    with pytest.raises(ValueError, match=r"\[perplexity\] stride"):
        tx.lm.perplexity_windows(10, 4, 5)


@pytest.mark.parametrize("context,stride", [(64, None), (64, 16), (512, None)])
def test_perplexity_matches_numpy_float64(stories, context, stride):
    model, tokenizer = stories
    text = story_text()
    r = perplexity(model, tokenizer, text, context=context, stride=stride, max_tokens=300)
    ids = tokenizer.encode(text)[:300]
    assert ids[0] == tokenizer.bos_token_id
    logp, targets = reference_logp(model, ids, context, stride or context)
    nll = -logp[np.arange(len(targets)), targets]
    assert r.tokens == len(targets)
    assert r.nll_sum == pytest.approx(nll.sum(), rel=1e-5)
    assert r.mean_nll == pytest.approx(nll.mean(), rel=1e-5)
    assert r.perplexity == pytest.approx(math.exp(nll.mean()), rel=1e-5)
    assert r.windows == len(windows(300, context, stride or context))


def test_perplexity_orders_texts_and_takes_ids(stories):
    model, tokenizer = stories
    with open(SHAKESPEARE, encoding="utf-8") as f:
        shakespeare = f.read()
    own = perplexity(model, tokenizer, story_text(), context=256, max_tokens=400).perplexity
    other = perplexity(model, tokenizer, shakespeare, context=256, max_tokens=400).perplexity
    assert own < 3 and other > 4 * own
    ids = tokenizer.encode(story_text())[:200]
    assert perplexity(model, tokenizer, ids, context=64).nll_sum == pytest.approx(
        perplexity(model, tokenizer, story_text(), context=64, max_tokens=200).nll_sum, rel=1e-9)
    with pytest.raises(ValueError, match=r"\[perplexity\] need at least 2 tokens"):
        perplexity(model, tokenizer, [1])
    with pytest.raises(IndexError, match="outside the model's vocabulary"):
        perplexity(model, tokenizer, [1, 100000])
    with pytest.raises(TypeError, match=r"\[perplexity\] expected a model"):
        perplexity(object(), tokenizer, "text")


def test_kl_divergence_matches_numpy_float64(stories, tmp_path):
    model, tokenizer = stories
    self_kl = kl_divergence(model, model, tokenizer, story_text(), context=64, max_tokens=160)
    assert self_kl.mean_kl == pytest.approx(0, abs=1e-6) and self_kl.top1_agreement == 1.0
    noisy, _ = load(perturbed_llama2c(tmp_path, 0.05))
    k = kl_divergence(noisy, model, tokenizer, story_text(), context=64, max_tokens=160)
    ids = tokenizer.encode(story_text())[:160]
    lm, targets = reference_logp(noisy, ids, 64, 64)
    lr, _ = reference_logp(model, ids, 64, 64)
    kl = (np.exp(lr) * (lr - lm)).sum(axis=1)
    assert k.model.tokens == len(targets)
    assert k.mean_kl > 1e-4
    assert k.mean_kl == pytest.approx(kl.mean(), rel=1e-3)
    assert k.max_kl == pytest.approx(kl.max(), rel=1e-3)
    assert k.top1_agreement == pytest.approx((lm.argmax(1) == lr.argmax(1)).mean())
    assert k.model.nll_sum == pytest.approx(-lm[np.arange(len(targets)), targets].sum(), rel=1e-5)
    assert k.reference.perplexity == pytest.approx(self_kl.reference.perplexity, rel=1e-9)


# --- command lines ---------------------------------------------------------------------------------------

def run_cli(*args, timeout=300, env=None):
    return subprocess.run([tessera_cmd(), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def test_cli_perplexity_and_python_module_agree_with_api(stories, tmp_path):
    model, tokenizer = stories
    text_file = tmp_path / "story.txt"
    text_file.write_text(story_text())
    args = ["--model", MODEL, "--file", str(text_file), "--context", "64", "--stride", "32", "--max-tokens", "250"]
    expected = perplexity(model, tokenizer, story_text(), context=64, stride=32, max_tokens=250)
    r = run_cli("perplexity", *args, "--json")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["tokens"] == expected.tokens == 249
    assert got["perplexity"] == pytest.approx(expected.perplexity, rel=1e-9)
    py = subprocess.run([sys.executable, "-m", "tessera.lm.perplexity", *args, "--json"], capture_output=True,
                        text=True, timeout=300)
    assert py.returncode == 0, py.stderr
    assert json.loads(py.stdout)["perplexity"] == pytest.approx(expected.perplexity, rel=1e-9)
    human = run_cli("perplexity", *args)
    assert f"Perplexity: {expected.perplexity:.4f}" in human.stdout
    assert "Tokens: 249 scored in" in human.stdout


def test_cli_kl_and_compare(stories, tmp_path):
    text_file = tmp_path / "story.txt"
    text_file.write_text(story_text())
    noisy = perturbed_llama2c(tmp_path, 0.05)
    args = ["--file", str(text_file), "--context", "64", "--max-tokens", "160", "--json"]
    r = run_cli("kl", "--model", noisy, "--reference", MODEL, *args)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    model, tokenizer = stories
    expected = kl_divergence(load(noisy)[0], model, tokenizer, story_text(), context=64, max_tokens=160)
    assert got["mean_kl"] == pytest.approx(expected.mean_kl, rel=1e-9) and got["mean_kl"] > 0
    assert got["top1_agreement"] == pytest.approx(expected.top1_agreement)
    same = run_cli("perplexity", "--model", noisy, "--compare", MODEL, *args)
    assert json.loads(same.stdout)["mean_kl"] == pytest.approx(got["mean_kl"], rel=1e-12)
    py = subprocess.run([sys.executable, "-m", "tessera.lm.perplexity", "--model", noisy, "--compare", MODEL, *args],
                        capture_output=True, text=True, timeout=300)
    assert py.returncode == 0, py.stderr
    assert json.loads(py.stdout)["mean_kl"] == pytest.approx(got["mean_kl"], rel=1e-9)
    human = run_cli("kl", "--model", noisy, "--reference", MODEL, *args[:-1])
    assert "KL(reference || model): mean" in human.stdout and "Top-1 agreement:" in human.stdout


def test_cli_kl_of_quantized_model(tmp_path, stories):
    """--quantization quantizes --model at load: the CLI's KL equals the Python API's on the same loads,
    and 4 bits cost more than 8."""
    text_file = tmp_path / "story.txt"
    text_file.write_text(story_text())
    args = ["--file", str(text_file), "--context", "64", "--max-tokens", "160", "--json"]
    model, tokenizer = stories
    kls = {}
    for q in ("int8", "int4"):
        r = run_cli("kl", "--model", MODEL, "--reference", MODEL, "--quantization", q, *args)
        assert r.returncode == 0, r.stderr
        got = json.loads(r.stdout)
        expected = kl_divergence(load(MODEL, quantization=q)[0], model, tokenizer, story_text(), context=64,
                                 max_tokens=160)
        assert got["mean_kl"] == pytest.approx(expected.mean_kl, rel=1e-6)
        kls[q] = got["mean_kl"]
    assert 0 < kls["int8"] < kls["int4"]
    r = run_cli("kl", "--model", MODEL, "--reference", MODEL, "--quantization", "int3", *args)
    assert r.returncode != 0 and "int3" in r.stderr


def test_cli_usage_errors(tmp_path):
    text_file = tmp_path / "t.txt"
    text_file.write_text("Once upon a time")
    for args, needle in [(["perplexity", "--model", MODEL], "--file is required"),
                         (["perplexity", "--file", str(text_file), "--context", "1"], "--context must be >= 2"),
                         (["perplexity", "--file", str(text_file), "--stride", "600"], "--stride must be in"),
                         (["kl", "--model", MODEL, "--file", str(text_file)], "--reference is required"),
                         (["perplexity", "--bogus", "1"], "unknown option --bogus"),
                         (["download"], "missing the model id"),
                         (["download", "not-a-repo"], "is not a model id")]:
        r = run_cli(*args)
        assert r.returncode == 2 and needle in r.stderr, (args, r.stderr)
    r = run_cli("perplexity", "--model", MODEL, "--file", str(tmp_path / "none.txt"))
    assert r.returncode == 1 and "cannot read" in r.stderr
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    r = run_cli("perplexity", "--model", MODEL, "--file", str(empty))
    assert r.returncode == 1 and "need at least 2 tokens" in r.stderr


# --- Hugging Face cache and download ---------------------------------------------------------------------

def fake_hub(tmp_path, repo, files):
    """models--org--name/{blobs, refs/main, snapshots/<commit>/<file> -> ../../blobs/<blob>} as huggingface_hub."""
    cache = tmp_path / "hub"
    d = cache / ("models--" + repo.replace("/", "--"))
    (d / "blobs").mkdir(parents=True)
    (d / "refs").mkdir()
    snap = d / "snapshots" / COMMIT
    snap.mkdir(parents=True)
    (d / "refs" / "main").write_text(COMMIT)
    for i, name in enumerate(files):
        shutil.copy(os.path.join(FIXTURE, name), d / "blobs" / f"blob{i}")
        os.symlink(f"../../blobs/blob{i}", snap / name)
    return cache, snap


@pytest.fixture
def hub_env(monkeypatch, tmp_path):
    def make(repo, files):
        cache, snap = fake_hub(tmp_path, repo, files)
        monkeypatch.setenv("HF_HUB_CACHE", str(cache))
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        return cache, snap
    return make


def test_load_hub_id_from_fake_cache(hub_env):
    cache, snap = hub_env("tiny-org/tiny-llama", ["config.json", "model.safetensors", "tokenizer.json"])
    assert os.path.islink(snap / "model.safetensors")
    assert download("tiny-org/tiny-llama") == str(snap)
    model, tokenizer = load("tiny-org/tiny-llama")
    ref_model, ref_tokenizer = load(FIXTURE)
    ids = tx.array([[1, 5, 9, 3]], dtype=tx.int32)
    np.testing.assert_array_equal(np.array(model(ids)), np.array(ref_model(ids)))
    assert generate(model, tokenizer, "hello", max_tokens=8) == generate(ref_model, ref_tokenizer, "hello", max_tokens=8)
    r = run_cli("download", "tiny-org/tiny-llama", env={"HF_HUB_CACHE": str(cache)})
    assert r.returncode == 0 and r.stdout.strip() == str(snap), r.stderr
    r = run_cli("generate", "--model", "tiny-org/tiny-llama", "--max-tokens", "4", "--raw", "--prompt", "hi")
    assert r.returncode == 0, r.stderr


def test_missing_repo_errors_name_repo_and_files(hub_env, tmp_path):
    cache, _ = hub_env("org/no-tokenizer", ["config.json", "model.safetensors"])
    with pytest.raises(RuntimeError) as e:
        load("nobody/missing-model")
    msg = str(e.value)
    assert "nobody/missing-model" in msg and str(cache) in msg
    assert "config.json, model.safetensors (or model.safetensors.index.json), tokenizer.json" in msg
    with pytest.raises(RuntimeError, match=r"tokenizer\.json \(or tokenizer\.model\)"):
        load("org/no-tokenizer")
    with pytest.raises(RuntimeError, match=r"\[hub\] nobody/missing-model is neither a local path"):
        tx.lm.load("nobody/missing-model")  # the C++ loader never downloads
    with pytest.raises(ValueError, match="not a model id"):
        download("no-slash")
    tic = time.perf_counter()
    r = run_cli("download", "nobody/missing-model", timeout=120)
    assert r.returncode == 1
    assert "nobody/missing-model" in r.stderr and "config.json" in r.stderr and str(cache) in r.stderr
    assert time.perf_counter() - tic < 60


def test_download_without_network_fails_fast(monkeypatch, tmp_path):
    # Not offline mode: a real request to an endpoint that refuses connections must fail quickly with the
    # same clear error (no hang, no retry loop).
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    env = {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_ETAG_TIMEOUT": "3", "HF_HUB_DOWNLOAD_TIMEOUT": "3"}
    tic = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "tessera.lm.download", "some-org/some-model", "--timeout", "3"],
                       capture_output=True, text=True, timeout=120, env={**os.environ, **env})
    assert r.returncode == 1, r.stdout
    assert "[download] could not get some-org/some-model" in r.stderr
    assert "Missing from the Hugging Face cache" in r.stderr and "config.json" in r.stderr
    assert time.perf_counter() - tic < 60


# --- tessera.lm.models ------------------------------------------------------------------------------------

def test_custom_model_loading_matches_load():
    model = Llama.from_config(os.path.join(FIXTURE, "config.json"))
    with pytest.raises(RuntimeError, match="no weights yet"):
        model(tx.array([[1]], dtype=tx.int32))
    weights = tx.load(os.path.join(FIXTURE, "model.safetensors"))
    model.update(weights)
    tokenizer = load_tokenizer(FIXTURE)
    ref_model, ref_tokenizer = load(FIXTURE)
    ids = tx.array([[1, 7, 2, 11, 4]], dtype=tx.int32)
    np.testing.assert_array_equal(np.array(model(ids)), np.array(ref_model(ids)))
    assert generate(model, tokenizer, "hello world", max_tokens=10) == generate(ref_model, ref_tokenizer,
                                                                              "hello world", max_tokens=10)
    assert model.num_layers == ref_model.num_layers and model.model_type == "llama"
    # Nested trees and partial updates replace the named weights only.
    name = "model.norm.weight"
    model.update({"model": {"norm": {"weight": weights[name] * 2}}})
    assert not np.array_equal(np.array(model(ids)), np.array(ref_model(ids)))
    model.update([(name, weights[name])])
    np.testing.assert_array_equal(np.array(model(ids)), np.array(ref_model(ids)))
    assert perplexity(model, tokenizer, "hello world hello", context=8).tokens >= 1


def test_custom_model_loading_errors(tmp_path):
    with pytest.raises(ValueError, match=r"\[models\] cannot read the config"):
        Llama.from_config(tmp_path / "none.json")
    weights = tx.load(os.path.join(FIXTURE, "model.safetensors"))
    partial = {k: v for k, v in weights.items() if k != "model.norm.weight"}
    with pytest.raises(Exception, match="model.norm.weight"):
        Llama.from_config(FIXTURE).update(partial)
    with pytest.raises(ValueError, match="model_type"):
        Llama.from_config({"model_type": "gpt2"}).update(weights)
    with pytest.raises(TypeError, match="not a tessera array"):
        Llama.from_config(FIXTURE).update({"model.norm.weight": [1.0]})


def test_generate_stream_true_yields_the_pieces(stories):
    model, tokenizer = stories
    pieces = list(generate(model, tokenizer, "Once upon a time", max_tokens=30, stream=True))
    assert len(pieces) > 1
    assert "".join(pieces) == generate(model, tokenizer, "Once upon a time", max_tokens=30)
    assert pieces == [r.text for r in stream_generate(model, tokenizer, "Once upon a time", max_tokens=30)]
