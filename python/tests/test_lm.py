"""tessera.lm (MLX-LM's Python API) on the bundled stories260K llama2.c model."""

import os
import subprocess
import sys

import numpy as np
import pytest

import tessera.core as tx
from tessera.lm import generate, load, make_logits_processors, make_sampler, stream_generate
from tessera.lm.utils import load_tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL_DIR = os.path.join(ROOT, "models", "stories260K")
MODEL = os.path.join(MODEL_DIR, "stories260K.bin")
SHARED = os.path.join(ROOT, "..", "shared", "data")
REFERENCE = os.path.join(SHARED, "models", "stories260K", "greedy-empty-prompt.txt")
QWEN_TEMPLATE = os.path.join(SHARED, "chat_templates", "Qwen-Qwen2.5-7B-Instruct.jinja")


@pytest.fixture(scope="module")
def loaded():
    return load(MODEL)


def test_greedy_from_empty_prompt_matches_llama2c(loaded):
    model, tokenizer = loaded
    text = generate(model, tokenizer, "", max_tokens=60)
    assert text.startswith("Once upon a time, there was a little girl named Lily.")
    if not os.path.exists(REFERENCE):
        pytest.skip(f"{REFERENCE} is missing (shared data)")
    with open(REFERENCE, encoding="utf-8") as f:
        ref = f.read()
    assert ref.startswith(text), (text, ref[:400])
    # 256 steps stopping at BOS, as the reference was produced
    full = generate(model, tokenizer, [], max_tokens=256)
    assert ref.rstrip("\n").startswith(full.rstrip("\n")) and len(full) > 200


def test_stream_pieces_concatenate_to_generate_and_to_the_cpp_loop(loaded):
    model, tokenizer = loaded
    prompt = "Once upon a time, a cat"
    pieces = list(stream_generate(model, tokenizer, prompt, max_tokens=40))
    text = generate(model, tokenizer, prompt, max_tokens=40)
    assert "".join(p.text for p in pieces) == text
    assert len(pieces) == 40 and pieces[-1].finish_reason == "length"
    assert all(p.finish_reason is None for p in pieces[:-1])
    ids = tokenizer.encode(prompt)
    assert pieces[0].prompt_tokens == len(ids) and pieces[-1].generation_tokens == 40
    assert pieces[-1].peak_memory > 0 and pieces[-1].generation_tps > 0 and pieces[0].prompt_tps > 0
    assert tokenizer.decode([p.token for p in pieces]) == tokenizer.decode(
        [p.token for p in pieces], skip_special_tokens=True)
    # greedy: each token is the argmax of its logprobs, which are normalized
    for p in pieces[:5]:
        lp = np.array(p.logprobs)
        assert lp.shape == (tokenizer.vocab_size,) and int(lp.argmax()) == p.token
        assert np.exp(lp).sum() == pytest.approx(1.0, rel=1e-4)
    # The C++ generation loop (what the CLI runs) gives the same tokens and text.
    r = tx.lm.generate(model, tokenizer.core, ids, 40)
    assert list(r.tokens) == [p.token for p in pieces] and r.text == text


def test_stops_at_eos_with_finish_reason_stop(loaded):
    model, tokenizer = loaded
    responses = list(stream_generate(model, tokenizer, [], max_tokens=400))
    assert responses[-1].finish_reason == "stop" and responses[-1].token in tokenizer.eos_token_ids
    assert len(responses) < 400


def test_sampling_keywords_and_make_sampler(loaded):
    model, tokenizer = loaded
    a = generate(model, tokenizer, "Lily", max_tokens=30, temp=1.0, top_p=0.9, seed=3)
    b = generate(model, tokenizer, "Lily", max_tokens=30, sampler=make_sampler(temp=1.0, top_p=0.9, seed=3))
    c = generate(model, tokenizer, "Lily", max_tokens=30, temp=1.0, top_p=0.9, seed=4)
    greedy = generate(model, tokenizer, "Lily", max_tokens=30)
    assert a == b and a != c and a != greedy
    # top_k=1 is greedy whatever the temperature
    assert generate(model, tokenizer, "Lily", max_tokens=30, temp=2.0, top_k=1) == greedy
    # a plain callable sampler over log-probabilities
    argmax = lambda logprobs: tx.argmax(logprobs, axis=-1)
    assert generate(model, tokenizer, "Lily", max_tokens=30, sampler=argmax) == greedy
    # a repetition penalty changes greedy text; the logits processor form agrees with the keyword
    pen = generate(model, tokenizer, "Lily", max_tokens=30, repetition_penalty=1.5)
    assert pen != greedy
    proc = generate(model, tokenizer, "Lily", max_tokens=30, logits_processors=make_logits_processors(
        repetition_penalty=1.5))
    assert proc == pen
    with pytest.raises(TypeError, match="unexpected"):
        generate(model, tokenizer, "Lily", max_tokens=3, temperature=1.0)


def test_tokenizer_roundtrip_and_special_ids(loaded):
    _, tokenizer = loaded
    tok = load_tokenizer(MODEL_DIR)
    for t in (tokenizer, tok):
        text = "Once upon a time, Lily saw a ü and 字!"
        ids = t.encode(text)
        assert ids[0] == t.bos_token_id == 1
        assert t.decode(ids, skip_special_tokens=True) == text
        assert t.encode(text, add_special_tokens=False) == ids[1:]
        assert t.eos_token_ids == {1, 2} and t.vocab_size == 512
    with pytest.raises(ValueError, match=r"\[tokenizer\]"):
        load_tokenizer(os.path.join(MODEL_DIR, "README.md"))


def test_chat_template(loaded):
    _, tokenizer = loaded
    with pytest.raises(ValueError, match="chat template"):
        tokenizer.apply_chat_template([{"role": "user", "content": "hi"}])
    if not os.path.exists(QWEN_TEMPLATE):
        pytest.skip("shared chat templates missing")
    with open(QWEN_TEMPLATE, encoding="utf-8") as f:
        tokenizer.chat_template = f.read()
    try:
        messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Tell a story"}]
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        assert text == ("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nTell a story<|im_end|>\n"
                        "<|im_start|>assistant\n")
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True)
        assert ids == tokenizer.encode(text, add_special_tokens=False)
    finally:
        tokenizer.chat_template = None


def test_mlx_lm_readme_example_runs(loaded, capsys):
    # The MLX-LM README's example: load, chat-templated prompt, generate(verbose=True), then stream with a
    # temperature sampler.
    model, tokenizer = load(MODEL_DIR)
    with open(QWEN_TEMPLATE, encoding="utf-8") as f:
        tokenizer.chat_template = f.read()
    messages = [{"role": "user", "content": "Write a story about Einstein"}]
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True)
    text = generate(model, tokenizer, prompt=prompt, verbose=True, max_tokens=20)
    out = capsys.readouterr().out
    assert text in out and "Generation:" in out and "Peak memory:" in out
    pieces = []
    for response in stream_generate(model, tokenizer, prompt, max_tokens=20, sampler=make_sampler(temp=0.7)):
        pieces.append(response.text)
    assert len(pieces) >= 1


def test_python_cli_matches_reference():
    r = subprocess.run([sys.executable, "-m", "tessera.lm.generate", "--model", MODEL, "--max-tokens", "40"],
                       capture_output=True, text=True, timeout=120, env={**os.environ})
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Once upon a time, there was a little girl named Lily. She loved to play outside")
    assert "Prompt: 1 tokens" in r.stderr and "Generation: 40 tokens" in r.stderr
    bad = subprocess.run([sys.executable, "-m", "tessera.lm.generate", "--model", MODEL, "--top-p", "2"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--top-p" in bad.stderr
    missing = subprocess.run([sys.executable, "-m", "tessera.lm.generate", "--model", MODEL + ".nope"],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "error" in missing.stderr
