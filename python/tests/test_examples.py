"""The example scripts in examples/python/ run and print what the same calls give in-process (model:
$TESSERA_EXAMPLE_MODEL, else the bundled stories260K)."""

import os
import shutil
import subprocess
import sys

import pytest

from tessera.lm import generate, load

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "examples", "python")
MODEL = os.environ.get("TESSERA_EXAMPLE_MODEL", os.path.join(ROOT, "models", "stories260K"))
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "hf_models", "llama")


def run_example(name, *args, env=None, interpreter=(sys.executable,)):
    return subprocess.run([*interpreter, os.path.join(EXAMPLES, name), *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


def expected_text(model_path, prompt="Once upon a time", max_tokens=100):
    model, tokenizer = load(model_path)
    if tokenizer.chat_template is not None:
        prompt = tokenizer.apply_chat_template([{"role": "user", "content": "Write a story about Einstein"}],
                                               add_generation_prompt=True)
    return generate(model, tokenizer, prompt, max_tokens=max_tokens)


def test_basic_inference():
    r = run_example("basic_inference.py", MODEL)
    assert r.returncode == 0, r.stderr
    text = expected_text(MODEL)
    assert len(text) > 50
    assert r.stdout == text + "\n"


def test_streaming_generation():
    r = run_example("streaming_generation.py", env={"TESSERA_EXAMPLE_MODEL": MODEL})
    assert r.returncode == 0, r.stderr
    text = expected_text(MODEL)
    streamed, summary = r.stdout.rsplit("\n", 2)[0], r.stdout.rsplit("\n", 2)[1]
    assert streamed == text
    assert "tokens/s, finish: " in summary


def test_custom_model_loading():
    r = run_example("custom_model_loading.py", FIXTURE)
    assert r.returncode == 0, r.stderr
    header, text = r.stdout.split("\n", 1)
    assert header.startswith("llama: ") and "weight tensors" in header
    model, tokenizer = load(FIXTURE)
    assert text == generate(model, tokenizer, "hello world", max_tokens=20) + "\n"


def test_download_example_fails_clearly_offline(tmp_path):
    exe = os.environ.get("TESSERA_CLI") or shutil.which("tessera") or os.path.join(ROOT, "build", "tessera")
    if not os.path.exists(exe):
        pytest.skip("the tessera command is not built")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.symlink(os.path.abspath(exe), bindir / "tessera")
    env = {"PATH": f"{bindir}:{os.environ['PATH']}", "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1",
           "PYTHON": sys.executable}
    r = run_example("download_and_convert.sh", "some-org/some-model", env=env, interpreter=("bash",))
    assert r.returncode == 1
    assert "some-org/some-model" in r.stderr and "config.json" in r.stderr and str(tmp_path / "hub") in r.stderr
    assert r.stdout == ""  # stopped at the download: nothing generated
