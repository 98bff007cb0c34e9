"""tessera.lm.batch_generate: each prompt's text equals its own greedy generate() (stories260K and the tiny
Hugging Face fixtures, sliding-window ones included); bad input raises."""

import json
import os

import pytest

import tessera.core as tx
from tessera.lm import BatchResponse, batch_generate, generate, load
from tessera.lm.generate import generate_step

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "models", "stories260K", "stories260K.bin")
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "hf_models")
BYTE_TOKENIZER = os.path.join(FIXTURES, "llama", "tokenizer.json")


@pytest.fixture(scope="module")
def stories():
    return load(MODEL)


def fixture(arch):
    model, tok = load(os.path.join(FIXTURES, arch), tokenizer_path=BYTE_TOKENIZER)
    with open(os.path.join(FIXTURES, arch, "expected.json")) as f:
        return model, tok, json.load(f)


def test_texts_equal_unbatched_greedy(stories):
    model, tok = stories
    prompts = ["Once upon a time", "", "Lily and Tom went to the park. They saw a big", "The cat", "Sam"]
    expected = [generate(model, tok, p, max_tokens=40) for p in prompts]
    for batch_size in (None, 2, 5):
        r = batch_generate(model, tok, prompts, max_tokens=40, batch_size=batch_size)
        assert isinstance(r, BatchResponse)
        assert r.texts == expected
        assert r.stats.generation_tokens == sum(len(t) for t in r.tokens)
        assert r.stats.batch_size == (batch_size or r.stats.batch_size) and r.stats.batch_size >= 1
    # Token-id prompts work the same.
    ids = [tok.encode(p) if p else [] for p in prompts]
    assert batch_generate(model, tok, ids, max_tokens=40).texts == expected


def test_rows_stop_on_their_own(stories):
    model, tok = stories
    prompts = ["", "Once upon a time", "The dog was"]
    r = batch_generate(model, tok, prompts, max_tokens=60, stop_strings=["Lily"])
    assert r.texts[0] == "Once upon a time, there was a little girl named "
    assert r.finish_reasons[0] == "stop_string"
    for i, p in enumerate(prompts):
        c = tx.lm.generate(model, tok.core, tok.encode(p) if p else [], 60, stop_strings=["Lily"])
        assert r.texts[i] == c.text and r.finish_reasons[i] == c.finish_reason


@pytest.mark.parametrize("arch", ["mistral", "gemma2", "llama"])
def test_hugging_face_fixtures_equal_transformers_and_unbatched(arch):
    model, tok, ex = fixture(arch)
    p1, p2 = ex["prompt"], ex["prompt2"]
    prompts = [p2[:4], p1, p2, p1[:7]]
    r = batch_generate(model, None, prompts, max_tokens=16)
    assert r.tokens[1] == ex["greedy"]  # transformers' greedy decoding
    for i, p in enumerate(prompts):
        ref = [t for t, _ in generate_step(p, model, max_tokens=16)]
        assert r.tokens[i] == ref, (arch, i)
    assert r.texts == ["", "", "", ""]


def test_bad_input(stories):
    model, tok = stories
    with pytest.raises(ValueError):
        batch_generate(model, tok, [])
    with pytest.raises(TypeError):
        batch_generate(model, tok, "one prompt")
    with pytest.raises(TypeError):
        batch_generate(model, None, ["text needs a tokenizer"])
    with pytest.raises(IndexError):
        batch_generate(model, tok, [[1, 9999]])
    with pytest.raises(TypeError):
        batch_generate(model, tok, ["a"], bogus=1)
    assert tx.lm.batch_size_for_memory(model, 100, 8) == 8
    assert tx.lm.kv_bytes_per_token(model) == 2 * 5 * 4 * 8 * 4
