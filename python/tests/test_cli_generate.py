"""End-to-end tests of the `tessera generate` command on the bundled stories260K model."""
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "models", "stories260K", "stories260K.bin")
REFERENCE = os.path.join(ROOT, "..", "shared", "data", "models", "stories260K", "greedy-empty-prompt.txt")


def tessera_cmd():
    # $TESSERA_CLI, else the command `pip install .` put on the PATH, else the CMake build's.
    exe = os.environ.get("TESSERA_CLI") or shutil.which("tessera")
    if exe is None:
        exe = os.path.join(ROOT, "build", "tessera")
    if not os.path.exists(exe):
        pytest.skip("the tessera command is not built (scripts/build.sh or pip install .)")
    return exe


def run(*args, stdin=None):
    return subprocess.run([tessera_cmd(), *args], capture_output=True, text=True, input=stdin, timeout=120)


def test_greedy_generation_matches_llama2c():
    r = run("generate", "--model", MODEL, "--max-tokens", "40")
    assert r.returncode == 0, r.stderr
    # llama2.c's run.c, greedy from BOS on the same model, starts with this text.
    expected = "Once upon a time, there was a little girl named Lily. She loved to play outside"
    assert r.stdout.startswith(expected), r.stdout
    if os.path.exists(REFERENCE):
        with open(REFERENCE, encoding="utf-8") as f:
            assert f.read().startswith(r.stdout.rstrip("\n"))
    assert "Prompt: 1 tokens" in r.stderr
    assert "Generation: 40 tokens" in r.stderr
    assert "Peak memory" in r.stderr


def test_prompt_from_stdin_and_echo():
    r = run("generate", "--model", MODEL, "--prompt", "-", "--max-tokens", "10", "--echo", stdin="Once upon a time")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Once upon a time, there was a little girl"), r.stdout
    assert "Prompt: 5 tokens" in r.stderr


def test_seeded_sampling_is_reproducible():
    args = ("generate", "--model", MODEL, "--max-tokens", "30", "--temp", "1.0", "--top-p", "0.9", "--seed", "3")
    a, b = run(*args), run(*args)
    assert a.returncode == 0 and b.returncode == 0
    assert a.stdout == b.stdout


def test_missing_model_fails_cleanly(tmp_path):
    missing = str(tmp_path / "nope.bin")
    r = run("generate", "--model", missing)
    assert r.returncode == 1
    assert "no such file" in r.stderr and missing in r.stderr


def test_corrupt_model_fails_cleanly(tmp_path):
    bad = tmp_path / "bad.bin"
    with open(MODEL, "rb") as f:
        bad.write_bytes(f.read()[:5000])
    r = run("generate", "--model", str(bad), "--tokenizer", os.path.join(os.path.dirname(MODEL), "tok512.bin"))
    assert r.returncode == 1
    assert "[llama2c]" in r.stderr and "truncated" in r.stderr


def test_help_and_bad_options():
    r = run("generate", "--help")
    assert r.returncode == 0 and "--max-tokens" in r.stdout
    r = run("generate", "--model", MODEL, "--max-tokens", "ten")
    assert r.returncode == 2 and "--max-tokens" in r.stderr


def test_generate_from_hugging_face_directory():
    # A tiny random Llama made by transformers (tests/fixtures/hf_models/make_fixtures.py) with a byte
    # tokenizer: tessera's greedy text equals transformers' greedy tokens as bytes.
    import json

    model_dir = os.path.join(ROOT, "tests", "fixtures", "hf_models", "llama")
    with open(os.path.join(model_dir, "expected.json")) as f:
        expected = json.load(f)
    prompt = bytes(expected["prompt"]).decode("ascii")
    r = run("generate", "--model", model_dir, "--prompt", prompt, "--max-tokens", "16")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(bytes(expected["greedy"]).decode("ascii")), (r.stdout, expected["greedy"])
    assert "Generation: 16 tokens" in r.stderr
