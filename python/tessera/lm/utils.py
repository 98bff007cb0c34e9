"""Loading models and tokenizers (MLX-LM's mlx_lm.utils.load): Hugging Face directories, GGUF files and
llama2.c checkpoints."""

import glob
import os
import sys

from .. import core
from .tokenizer_utils import TokenizerWrapper

_lm = core.lm


_QUANTIZATIONS = (None, "int8", "int4", "f16", "bf16", "f32")


def load(path_or_hf_repo, tokenizer_path=None, tokenizer_config=None, quantization=None):
    """(model, tokenizer) from a Hugging Face model directory (config.json + safetensors; MLX-quantized
    ones too), a GGUF file (Q4_0/Q4_1/Q8_0/Q4_K/Q5_K/Q6_K weights stay quantized), or a llama2.c checkpoint
    (.bin, or a directory holding one). The tokenizer comes from tokenizer_path, else a tokenizer.bin /
    tok*.bin next to the model whose vocabulary size matches. quantization: None keeps the weights as
    stored; "int8" / "int4" quantize linear and embedding weights at load (MLX affine, group size 64);
    "f16" / "bf16" / "f32" dequantize and cast. A Hugging Face id "org/name" that is not a local path loads
    from the Hugging Face cache, downloaded first when missing (tessera.lm.download; offline that raises a
    RuntimeError naming the missing files)."""
    if quantization not in _QUANTIZATIONS:
        raise ValueError(f"[load] unknown quantization {quantization!r} (int8, int4, f16, bf16, f32 or None)")
    path = os.fspath(path_or_hf_repo)
    if not os.path.exists(path) and _lm.is_hub_repo_id(path):
        from .download import download

        # Importing the submodule bound tessera.lm.download to it: the function wins (as in __getattr__).
        sys.modules[__package__].download = download
        path = download(path)
    if os.path.isdir(path) and not os.path.exists(os.path.join(path, "config.json")):
        bins = [p for p in sorted(glob.glob(os.path.join(path, "*.bin")))
                if not os.path.basename(p).startswith("tok")]
        if not bins:
            raise FileNotFoundError(f"[load] no model checkpoint (*.bin) in {path}")
        path = bins[0]
    model, tokenizer = _lm.load(path, os.fspath(tokenizer_path) if tokenizer_path else "", quantization or "")
    return model, TokenizerWrapper(tokenizer, **(tokenizer_config or {}))


def load_tokenizer(path, vocab_size=0, chat_template=None):
    """A TokenizerWrapper from a model directory, tokenizer.json, tokenizer.model, GGUF file (vocab-only
    files included) or llama2.c tokenizer.bin (or a directory holding only tokenizer.bin / tok*.bin)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        has_hf = any(os.path.exists(os.path.join(path, f)) for f in ("tokenizer.json", "tokenizer.model"))
        if not has_hf:
            candidates = [os.path.join(path, "tokenizer.bin")] + sorted(glob.glob(os.path.join(path, "tok*.bin")))
            candidates = [c for c in candidates if os.path.exists(c)]
            if not candidates:
                raise FileNotFoundError(f"[tokenizer] no tokenizer.json, tokenizer.model or tokenizer.bin in {path}")
            path = candidates[0]
    if path.endswith(".bin"):
        return TokenizerWrapper(_lm.Llama2cTokenizer(path, vocab_size), chat_template=chat_template)
    return TokenizerWrapper(_lm.load_tokenizer(path), chat_template=chat_template)
