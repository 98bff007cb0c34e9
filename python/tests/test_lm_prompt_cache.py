"""Prompt caches (make/save/load_prompt_cache): a shared prefix is not prefilled again, a diverging
prompt trims the cache, the text is the same as without a cache, and a cache of another model is refused."""

import os

import pytest

import tessera.core as tx
from tessera.lm.generate import generate_step
from tessera.lm import generate, load, load_prompt_cache, make_prompt_cache, save_prompt_cache, stream_generate

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "models", "stories260K", "stories260K.bin")
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "hf_models")


@pytest.fixture(scope="module")
def stories():
    return load(MODEL)


def test_prefix_reuse_and_trim(stories):
    model, tok = stories
    cache = make_prompt_cache(model)
    p1 = tok.encode("Once upon a time, there was a little dog named Max.")
    t1 = generate(model, tok, p1, max_tokens=20, prompt_cache=cache)
    assert t1 == generate(model, tok, p1, max_tokens=20)
    held = list(cache.tokens)
    assert held[: len(p1)] == p1 and cache.offset == len(held) == len(p1) + 19

    # The follow-up prompt extends what the cache holds: only the new part is prefilled.
    p2 = held + tok.encode(" He was happy.", add_special_tokens=False)
    steps = tx.lm.GenerateStep(model, p2, prompt_cache=cache)
    assert steps.cached_prompt_tokens == len(held)
    first = [t for t, _ in steps.next()]
    cache2 = make_prompt_cache(model)
    t2 = generate(model, tok, p2, max_tokens=15, prompt_cache=cache2)
    assert generate(model, tok, p2, max_tokens=15, prompt_cache=cache) == t2 == generate(model, tok, p2, max_tokens=15)
    assert first[0] == next(generate_step(p2, model))[0]

    # A diverging prompt cuts the cache back to the common prefix.
    p3 = tok.encode("Once upon a time, there was a big cat.")
    common = next(i for i, (a, b) in enumerate(zip(p3, p1)) if a != b)
    steps = tx.lm.GenerateStep(model, p3, prompt_cache=cache)
    assert steps.cached_prompt_tokens == common
    assert cache.offset == common
    out = generate(model, tok, p3, max_tokens=15, prompt_cache=cache)
    assert out == generate(model, tok, p3, max_tokens=15)


def test_stream_generate_records_tokens(stories):
    model, tok = stories
    cache = make_prompt_cache(model)
    prompt = tok.encode("Tom had a ball.")
    tokens = [r.token for r in stream_generate(model, tok, prompt, max_tokens=10, prompt_cache=cache)]
    assert list(cache.tokens) == prompt + tokens[:-1]


def test_save_and_load(stories, tmp_path):
    model, tok = stories
    cache = make_prompt_cache(model)
    p = tok.encode("Lily wanted to play in the garden.")
    text = generate(model, tok, p, max_tokens=12, prompt_cache=cache)
    path = tmp_path / "cache.safetensors"
    save_prompt_cache(path, cache, {"model": "stories260K"})
    loaded, meta = load_prompt_cache(path, return_metadata=True)
    assert meta == {"model": "stories260K"}
    assert list(loaded.tokens) == list(cache.tokens) and loaded.nbytes > 0
    follow = list(cache.tokens) + tok.encode(" She", add_special_tokens=False)
    a = generate(model, tok, follow, max_tokens=12, prompt_cache=loaded)
    assert a == generate(model, tok, follow, max_tokens=12)
    assert isinstance(load_prompt_cache(path), tx.lm.PromptCache)
    assert text


def test_mismatched_and_bad_files(stories, tmp_path):
    model, tok = stories
    other, _ = load(os.path.join(FIXTURES, "mistral"), tokenizer_path=os.path.join(FIXTURES, "llama", "tokenizer.json"))
    with pytest.raises(ValueError, match="prompt_cache"):
        generate(model, tok, "Hi", max_tokens=3, prompt_cache=make_prompt_cache(other))
    bad = tmp_path / "bad.safetensors"
    tx.save_safetensors(str(bad), {"tokens": tx.array([1, 2], dtype=tx.int32)})
    with pytest.raises(ValueError, match="not a prompt cache"):
        load_prompt_cache(bad)
    with pytest.raises(TypeError):
        save_prompt_cache(bad, make_prompt_cache(model), {"n": 1})
