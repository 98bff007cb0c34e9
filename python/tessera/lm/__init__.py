"""tessera.lm: LLM loading and text generation with MLX-LM's Python API (load, generate, stream_generate).

Names are imported lazily so that `python -m tessera.lm.generate` (the command line) runs its module
without it having been imported first by the package."""

import importlib

_EXPORTS = {
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
    # Importing a submodule named like one of its functions ("generate", "perplexity", "download") set the
    # package attribute to the module: the function wins.
    if module_name in _EXPORTS:
        globals()[module_name] = getattr(module, module_name)
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
