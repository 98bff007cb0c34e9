"""tessera.lm: LLM loading and text generation with MLX-LM's Python API (load, generate, stream_generate)."""

from .generate import GenerationResponse, generate, stream_generate
from .sample_utils import make_logits_processors, make_sampler
from .tokenizer_utils import TokenizerWrapper
from .utils import load, load_tokenizer

__all__ = [
    "GenerationResponse",
    "TokenizerWrapper",
    "generate",
    "load",
    "load_tokenizer",
    "make_logits_processors",
    "make_sampler",
    "stream_generate",
]
