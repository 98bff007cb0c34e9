# tessera's tokenizers against the reference implementations (Hugging Face `tokenizers`, `sentencepiece`)
# on a thousand random and adversarial strings per vocabulary of ../shared/data/tokenizers.
import os
import random
import unicodedata

import pytest
import sentencepiece as spm
import tokenizers

from tessera.lm.utils import load_tokenizer

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data")
PIECES = ["the", " the", "Hello", " world", "  ", "   ", "\n", "\n\n", "\t", " \n ", "0", "12", "345", "2024",
          "3.14", "-7", "é", "ü", "ß", "ñ", "Ω", "ж", "привет", "日本語", "中文", "한국어", "مرحبا", "שלום",
          "😀", "👍🏽", "🇫🇷", "👨‍👩‍👧", "def f(x):", "    return x", "{\"a\": 1}", "<div>", "&amp;", "'s", "'ll",
          "n't", "CAPS", "MiXeD", "...", "?!", "--", "__init__", "a_b", "http://x.org/a?b=1", "\u00a0", "\u200b",
          "\u3000", "ﬁ", "Å", "A\u030a", "\r\n", "ǅ", "i̇", "x" * 40, "ab" * 15]


def random_char(rng):
    # Characters assigned in this Python's Unicode database (14.0 for Python 3.11, the version of
    # Debian 12's PCRE2 tables too): the reference's regex engine may know newer Unicode, and a
    # character unassigned in ours gets other \p{...} classes (a documented limitation).
    while True:
        cp = rng.choice([rng.randint(0x80, 0x7FF), rng.randint(0x800, 0xD7FF), rng.randint(0xE000, 0xFFFD),
                         rng.randint(0x10000, 0x1FAFF)])
        if unicodedata.category(chr(cp)) != "Cn":
            return chr(cp)


def random_texts(seed, n=1000):
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 12)):
            r = rng.random()
            if r < 0.6:
                parts.append(rng.choice(PIECES))
            elif r < 0.85:
                parts.append("".join(chr(rng.randint(32, 126)) for _ in range(rng.randint(1, 8))))
            else:  # random assigned code points from several planes (no surrogates)
                parts.append("".join(random_char(rng) for _ in range(rng.randint(1, 4))))
        texts.append("".join(parts))
    return texts


@pytest.mark.parametrize("name", ["llama3", "qwen2.5", "gemma"])
def test_tokenizer_json_matches_hf_tokenizers(name):
    path = os.path.join(DATA, "tokenizers", name, "tokenizer.json")
    ref = tokenizers.Tokenizer.from_file(path)
    ours = load_tokenizer(os.path.dirname(path))
    mismatches = []
    for text in random_texts(sum(map(ord, name))):
        want = ref.encode(text, add_special_tokens=False).ids
        got = ours.encode(text, add_special_tokens=False)
        if list(got) != want:
            mismatches.append(("encode", text, got, want))
        elif ours.decode(got) != ref.decode(want, skip_special_tokens=False):
            mismatches.append(("decode", text, ours.decode(got), ref.decode(want)))
    assert not mismatches, f"{len(mismatches)} of 1000 differ, first: {mismatches[0]!r}"


@pytest.mark.parametrize("rel", ["tokenizers/llama2/tokenizer.model", "tokenizers/mistral-v1/tokenizer.model",
                                 "tokenizers/mistral-v3/tokenizer.model", "models/stories260K/tok512.model"])
def test_sentencepiece_models_match_sentencepiece(rel):
    path = os.path.join(DATA, rel)
    ref = spm.SentencePieceProcessor(model_file=path)
    ours = load_tokenizer(path)
    mismatches = []
    for text in random_texts(len(rel)):
        want = ref.encode(text)
        got = ours.encode(text, add_special_tokens=False)
        if list(got) != want:
            mismatches.append(("encode", text, got, want))
        elif ours.decode(got) != ref.decode(want):
            mismatches.append(("decode", text, ours.decode(got), ref.decode(want)))
    assert not mismatches, f"{len(mismatches)} of 1000 differ, first: {mismatches[0]!r}"
