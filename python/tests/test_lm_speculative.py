"""Speculative decoding (generate(..., draft_model=, num_draft_tokens=)): the text is the model's own greedy
text for any draft; from_draft marks accepted proposals."""

import json
import os

import pytest

from tessera.lm import generate, load, make_prompt_cache, stream_generate
from tessera.lm.generate import generate_step, speculative_generate_step

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "models", "stories260K", "stories260K.bin")
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "hf_models")
BYTE_TOKENIZER = os.path.join(FIXTURES, "llama", "tokenizer.json")


@pytest.fixture(scope="module")
def stories():
    return load(MODEL)


def test_same_model_draft(stories):
    model, tok = stories
    for prompt in ["", "Once upon a time", "The little bird"]:
        ref = generate(model, tok, prompt, max_tokens=80)
        for k in (1, 4):
            assert generate(model, tok, prompt, max_tokens=80, draft_model=model, num_draft_tokens=k) == ref
    responses = list(stream_generate(model, tok, "Tom", max_tokens=30, draft_model=model, num_draft_tokens=3))
    assert len(responses) == 30
    assert sum(r.from_draft for r in responses) >= 20  # all proposals accepted: 3 of every 4 tokens


def test_different_draft_on_hugging_face_fixtures():
    target, tok = load(os.path.join(FIXTURES, "llama"))
    draft, _ = load(os.path.join(FIXTURES, "mistral"), tokenizer_path=BYTE_TOKENIZER)
    with open(os.path.join(FIXTURES, "llama", "expected.json")) as f:
        ex = json.load(f)
    for k in (1, 2, 5):
        out = [t for t, _, _ in speculative_generate_step(ex["prompt"], target, draft, num_draft_tokens=k,
                                                          max_tokens=16)]
        assert out == ex["greedy"], k  # transformers' greedy tokens of the target
    ref = [t for t, _ in generate_step(ex["prompt"], target, max_tokens=40)]
    out = [t for t, _, _ in speculative_generate_step(ex["prompt"], target, draft, num_draft_tokens=3, max_tokens=40)]
    assert out == ref


def test_with_prompt_cache_and_errors(stories):
    model, tok = stories
    cache = make_prompt_cache(model)
    ref = generate(model, tok, "One day", max_tokens=30)
    assert generate(model, tok, "One day", max_tokens=30, draft_model=model, prompt_cache=cache) == ref
    assert generate(model, tok, "One day", max_tokens=30, draft_model=model, prompt_cache=cache) == ref
    other, _ = load(os.path.join(FIXTURES, "mistral"), tokenizer_path=BYTE_TOKENIZER)
    with pytest.raises(ValueError, match="vocabulary"):
        generate(model, tok, "Hi", max_tokens=3, draft_model=other)
    with pytest.raises(ValueError, match="num_draft_tokens"):
        generate(model, tok, "Hi", max_tokens=3, draft_model=model, num_draft_tokens=0)
    with pytest.raises(ValueError):
        generate(model, tok, "Hi", max_tokens=3, draft_model=model, sampler=lambda lp: lp)
    with pytest.raises(TypeError):
        generate(model, tok, "Hi", max_tokens=3, draft_model=model, prompt_cache=model.make_cache())
