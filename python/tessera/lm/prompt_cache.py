"""Prompt caches as MLX-LM's mlx_lm.models.cache: make_prompt_cache, save_prompt_cache, load_prompt_cache.

A PromptCache passed to generate / stream_generate as prompt_cache= keeps the KV of the prompt and the
generated tokens; the next call prefills only what follows the prefix they share (trimming the cache
where the new prompt diverges)."""

import os

from .. import core

_lm = core.lm


def make_prompt_cache(model, max_kv_size=None):
    """An empty PromptCache for model (max_kv_size: a fixed capacity; None grows as needed)."""
    return _lm.PromptCache(model, int(max_kv_size or 0))


def save_prompt_cache(file_name, cache, metadata=None):
    """Writes the cache and a {str: str} metadata dict to a .safetensors file."""
    metadata = {} if metadata is None else metadata
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise TypeError("[prompt_cache] metadata must map str to str")
    _lm.save_prompt_cache(os.fspath(file_name), cache, metadata)


def load_prompt_cache(file_name, return_metadata=False):
    """The PromptCache in file_name (and its metadata dict when return_metadata)."""
    cache, metadata = _lm.load_prompt_cache(os.fspath(file_name))
    return (cache, metadata) if return_metadata else cache


def trim_prompt_cache(cache, num_tokens):
    """Drops the last num_tokens positions; returns how many were dropped."""
    return cache.trim(int(num_tokens))


def can_trim_prompt_cache(cache):
    return isinstance(cache, (_lm.PromptCache, _lm.KVCache))
