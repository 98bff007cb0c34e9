"""End-to-end tests of `tessera bench`, `tessera info` and `tessera tokenize` on the bundled stories260K model."""
import json
import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "models", "stories260K", "stories260K.bin")
TOK_BIN = os.path.join(ROOT, "models", "stories260K", "tok512.bin")
SHARED = os.path.join(ROOT, "..", "shared", "data")
SP_MODEL = os.path.join(SHARED, "models", "stories260K", "tok512.model")
GGUF = os.path.join(SHARED, "models", "gguf", "llama-2-tiny-random.gguf")


def tessera_cmd():
    # $TESSERA_CLI, else the command `pip install .` put on the PATH, else the CMake build's.
    exe = os.environ.get("TESSERA_CLI") or shutil.which("tessera")
    if exe is None:
        exe = os.path.join(ROOT, "build", "tessera")
    if not os.path.exists(exe):
        pytest.skip("the tessera command is not built (scripts/build.sh or pip install .)")
    return exe


def run(*args, stdin=None):
    return subprocess.run([tessera_cmd(), *args], capture_output=True, text=True, input=stdin, timeout=300)


def info_fields(text):
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


# --- bench -----------------------------------------------------------------------------------------------

def table_row(stdout):
    # The table is printed last: header, separator, one row.
    lines = [l for l in stdout.strip().splitlines() if l.startswith("|")]
    assert len(lines) >= 3, stdout
    header = [c.strip() for c in lines[-3].strip("|").split("|")]
    row = [c.strip() for c in lines[-1].strip("|").split("|")]
    return dict(zip(header, row))


def test_bench_stories_prints_positive_throughput():
    r = run("bench", "--shape", "stories", "--dtype", "f32", "-p", "32", "-n", "8", "--repeats", "2")
    assert r.returncode == 0, r.stderr
    row = table_row(r.stdout)
    assert row["model"] == "stories" and row["dtype"] == "float32" and row["batch"] == "1"
    prefill = float(row["prefill p=32 (tok/s)"])
    decode = float(row["decode n=8 (tok/s)"])
    assert prefill > 0 and decode > 0
    assert re.fullmatch(r"[0-9.]+ (B|KB|MB|GB)", row["peak memory"]), row
    assert float(row["decode GB/s"]) > 0
    # Two timed runs were reported on stderr, the median in the table.
    assert len(re.findall(r"run \d/2: prefill", r.stderr)) == 2


def test_bench_json_parses_and_is_consistent():
    r = run("bench", "--shape", "stories", "-p", "16", "-n", "4", "--repeats", "3", "--batch", "2", "--json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["model"] == "stories" and j["dtype"] == "bfloat16" and j["batch"] == 2
    assert j["prompt_tokens"] == 16 and j["gen_tokens"] == 4
    assert len(j["prefill_tps_runs"]) == 3 and len(j["decode_tps_runs"]) == 3
    assert j["prefill_tps"] == sorted(j["prefill_tps_runs"])[1]
    assert j["decode_tps"] == sorted(j["decode_tps_runs"])[1]
    assert j["prefill_tps"] > 0 and j["decode_tps"] > 0
    # stories260K: dim 64, FFN 172, 5 layers, 8 heads, 4 KV heads, vocab 512, tied.
    dim, ffn, layers, kv_dim, vocab = 64, 172, 5, 32, 512
    params = vocab * dim + layers * (2 * dim + 2 * dim * dim + 2 * dim * kv_dim + 3 * dim * ffn) + dim
    assert j["parameters"] == params
    assert j["weight_bytes"] == 2 * params  # bfloat16
    assert j["decode_weight_bytes_per_token"] == 2 * params  # tied: the embedding is also the output matrix
    assert j["peak_memory_bytes"] >= j["weight_bytes"]
    assert j["decode_gbps"] == pytest.approx(j["decode_weight_bytes_per_token"] * j["decode_tps"] / 2 / 1e9)


def test_bench_model_file():
    r = run("bench", "--model", MODEL, "-p", "8", "-n", "4", "--repeats", "1", "--json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["model"] == "stories260K.bin" and j["dtype"] == "float32" and j["decode_tps"] > 0


def test_bench_smol_small():
    r = run("bench", "--shape", "smol", "-p", "4", "-n", "2", "--repeats", "1", "--json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["parameters"] == 134515008 + 49152 * 576  # SmolLM2-135M plus an untied output matrix
    # Untied: the embedding table is not read whole per token.
    assert j["decode_weight_bytes_per_token"] == j["weight_bytes"] - 2 * 49152 * 576


def test_bench_errors():
    r = run("bench", "--help")
    assert r.returncode == 0 and "--shape" in r.stdout and "--json" in r.stdout
    for args in (["--shape", "13b"], [], ["--shape", "stories", "--model", MODEL], ["--shape", "stories", "-p", "0"],
                 ["--shape", "stories", "--dtype", "int8"], ["--shape", "stories", "--device", "tpu"],
                 ["--shape", "stories", "-n", "x"], ["--shape", "stories", "--bogus"]):
        r = run("bench", *args)
        assert r.returncode == 2, (args, r.stderr)
        assert "usage: tessera bench" in r.stderr
    r = run("bench", "--model", "/nonexistent/model.bin")
    assert r.returncode == 1 and "no such file" in r.stderr


# --- info ------------------------------------------------------------------------------------------------

def test_info_stories():
    r = run("info", "--model", MODEL)
    assert r.returncode == 0, r.stderr
    f = info_fields(r.stdout)
    # The numbers of /work/shared/data/MANIFEST.md and llama2.c's stories260K.md.
    assert f["architecture"] == "llama"
    assert f["hidden size"] == "64" and f["layers"] == "5" and f["heads"] == "8" and f["kv heads"] == "4"
    assert f["vocab size"] == "512" and f["context"] == "512" and f["tied embeddings"] == "yes"
    assert f["ffn size"] == "172" and f["rope theta"] == "10000"
    # fp32 weights: the file is a 28-byte header, the weights and two RoPE tables of seq_len * head_dim / 2.
    n = int(f["parameters"].split()[0])
    rope_tables = 2 * 512 * (64 // 8 // 2)
    assert os.path.getsize(MODEL) == 28 + 4 * (n + rope_tables)
    assert f["dtype F32"].startswith("%d tensors, %d elements" % (2 + 9 * 5, n))
    assert f["weight bytes"].startswith(str(4 * n))
    assert f["tokenizer"] == "llama2.c" and f["tokenizer vocab"] == "512"
    assert f["bos id"].split()[0] == "1" and f["eos ids"].split()[0] == "2"
    assert f["chat template"] == "no"


def test_info_gguf_matches_gguf_package():
    gguf = pytest.importorskip("gguf")
    if not os.path.exists(GGUF):
        pytest.skip("shared data missing")
    r = run("info", "--model", GGUF)
    assert r.returncode == 0, r.stderr
    f = info_fields(r.stdout)
    reader = gguf.GGUFReader(GGUF)

    def field(name):
        v = reader.fields[name]
        return v.parts[v.data[0]][0]

    assert int(f["layers"]) == field("llama.block_count")
    assert int(f["hidden size"]) == field("llama.embedding_length")
    assert int(f["heads"]) == field("llama.attention.head_count")
    assert int(f["context"]) == field("llama.context_length")
    assert int(f["parameters"].split()[0]) == sum(int(t.n_elements) for t in reader.tensors)
    assert int(f["weight bytes"].split()[0]) == sum(int(t.n_bytes) for t in reader.tensors)
    assert int(f["tokenizer vocab"]) == len(reader.fields["tokenizer.ggml.tokens"].data)
    assert int(f["bos id"].split()[0]) == field("tokenizer.ggml.bos_token_id")


def test_info_errors(tmp_path):
    r = run("info", "--help")
    assert r.returncode == 0 and "--model" in r.stdout
    r = run("info")
    assert r.returncode == 2 and "usage: tessera info" in r.stderr
    r = run("info", "--model", MODEL, "--verbose")
    assert r.returncode == 2
    missing = str(tmp_path / "nope.bin")
    r = run("info", "--model", missing)
    assert r.returncode == 1 and "no such file" in r.stderr and missing in r.stderr
    bad = tmp_path / "bad.bin"
    with open(MODEL, "rb") as f:
        bad.write_bytes(f.read()[:5000])
    r = run("info", "--model", str(bad))
    assert r.returncode == 1 and "[llama2c]" in r.stderr
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 40)
    r = run("info", "--model", str(bad))
    assert r.returncode == 1 and "[gguf]" in r.stderr


# --- tokenize --------------------------------------------------------------------------------------------

TEXT = "Once upon a time, there was a little cat named Tom. He liked to play!"


def test_tokenize_matches_sentencepiece():
    spm = pytest.importorskip("sentencepiece")
    if not os.path.exists(SP_MODEL):
        pytest.skip("shared data missing")
    sp = spm.SentencePieceProcessor(model_file=SP_MODEL)
    expected = sp.encode(TEXT)
    r = run("tokenize", "--model", MODEL, "--text", TEXT, "--ids", "--no-special")
    assert r.returncode == 0, r.stderr
    assert [int(x) for x in r.stdout.split()] == expected
    # With pieces (and BOS) by default; text from stdin.
    r = run("tokenize", "--tokenizer", TOK_BIN, stdin=TEXT + "\n")
    assert r.returncode == 0, r.stderr
    rows = [line.split("\t") for line in r.stdout.splitlines()]
    assert [int(i) for i, _ in rows] == [1] + expected
    assert [p for _, p in rows[1:]] == [sp.id_to_piece(i) for i in expected]


def test_tokenize_round_trip():
    r = run("tokenize", "--model", MODEL, "--text", TEXT, "--ids")
    assert r.returncode == 0, r.stderr
    ids = r.stdout.split()
    assert ids[0] == "1"  # BOS
    r = run("tokenize", "--model", MODEL, "--decode", " ".join(ids), "--no-special")
    assert r.returncode == 0, r.stderr
    assert r.stdout == TEXT + "\n"
    r = run("tokenize", "--model", MODEL, "--decode", ",".join(ids[1:]))
    assert r.stdout == TEXT + "\n"


def test_tokenize_errors(tmp_path):
    r = run("tokenize", "--help")
    assert r.returncode == 0 and "--decode" in r.stdout
    r = run("tokenize", "--text", "hi")
    assert r.returncode == 2 and "usage: tessera tokenize" in r.stderr
    r = run("tokenize", "--model", MODEL, "--decode", "1 two 3")
    assert r.returncode == 2
    r = run("tokenize", "--model", MODEL, "--decode", "1 9999")
    assert r.returncode == 1 and "9999" in r.stderr
    r = run("tokenize", "--tokenizer", str(tmp_path / "none.json"), "--text", "hi")
    assert r.returncode == 1 and "no such file" in r.stderr
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{ not json")
    r = run("tokenize", "--tokenizer", str(bad), "--text", "hi")
    assert r.returncode == 1 and "[tokenizer]" in r.stderr
