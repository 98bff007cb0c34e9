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
    "perplexity": "perplexity",
    "kl_divergence": "perplexity",
    "download": "download",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tessera.lm' has no attribute {name!r}")
    module_name = _EXPORTS[name]
    module = importlib.import_module(f".{module_name}", __name__)
    value = getattr(module, name)
    globals()[name] = value
    # Importing a submodule named like one of its functions ("generate", "perplexity", "download") sets
    # the package attribute to the module, also when another submodule imported it first: the function wins.
    for other, mod in _EXPORTS.items():
        loaded = sys.modules.get(f"{__name__}.{mod}")
        if loaded is not None and isinstance(globals().get(other), types.ModuleType):
            globals()[other] = getattr(loaded, other)
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
