"""tessera.lm: LLM loading and text generation with MLX-LM's Python API (load, generate, stream_generate).

Names are imported lazily so that `python -m tessera.lm.generate` (the command line) runs its module
without it having been imported first by the package."""

import importlib
import sys
import types

_EXPORTS = {
    "BatchResponse": "batch",
    "batch_generate": "batch",
    "make_prompt_cache": "prompt_cache",
    "save_prompt_cache": "prompt_cache",
    "load_prompt_cache": "prompt_cache",
    "trim_prompt_cache": "prompt_cache",
    "speculative_generate_step": "generate",
    "GenerationResponse": "generate",
    "generate": "generate",
    "stream_generate": "generate",
    "make_logits_processors": "sample_utils",
    "make_sampler": "sample_utils",
    "TokenizerWrapper": "tokenizer_utils",
    "load": "utils",
    "load_tokenizer": "utils",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tessera.lm' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    # Importing the submodule "generate" set the package attribute to the module: the function wins.
    globals()[name] = value
    # (also when another submodule imported it first)
    for other, module in _EXPORTS.items():
        loaded = sys.modules.get(f"{__name__}.{module}")
        if loaded is not None and isinstance(globals().get(other), types.ModuleType):
            globals()[other] = getattr(loaded, other)
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
