"""Loading models and tokenizers (MLX-LM's mlx_lm.utils.load): llama2.c checkpoints for now."""

import glob
import os

from .. import core
from .tokenizer_utils import TokenizerWrapper

_lm = core.lm


def load(path_or_hf_repo, tokenizer_path=None, tokenizer_config=None):
    """(model, tokenizer) from a llama2.c checkpoint (.bin, or a directory holding one). The tokenizer comes
    from tokenizer_path, else a tokenizer.bin / tok*.bin next to the model whose vocabulary size matches."""
    path = os.fspath(path_or_hf_repo)
    if os.path.isdir(path):
        bins = [p for p in sorted(glob.glob(os.path.join(path, "*.bin")))
                if not os.path.basename(p).startswith("tok")]
        if not bins:
            raise FileNotFoundError(f"[load] no model checkpoint (*.bin) in {path}")
        path = bins[0]
    model, tokenizer = _lm.load(path, os.fspath(tokenizer_path) if tokenizer_path else "")
    return model, TokenizerWrapper(tokenizer, **(tokenizer_config or {}))


def load_tokenizer(path, vocab_size=0, chat_template=None):
    """A TokenizerWrapper from a llama2.c tokenizer.bin (or a directory with tokenizer.bin / tok*.bin)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        candidates = [os.path.join(path, "tokenizer.bin")] + sorted(glob.glob(os.path.join(path, "tok*.bin")))
        candidates = [c for c in candidates if os.path.exists(c)]
        if not candidates:
            raise FileNotFoundError(f"[tokenizer] no tokenizer.bin or tok*.bin in {path}")
        path = candidates[0]
    return TokenizerWrapper(_lm.Llama2cTokenizer(path, vocab_size), chat_template=chat_template)
