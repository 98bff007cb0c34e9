"""Batched generation as MLX-LM's batch_generate: several prompts decoded together (left-padded, each
stopping on its own) by the C++ loop, returning a BatchResponse with .texts."""

from dataclasses import dataclass, field
from typing import List

from .. import core
from .generate import _prompt_ids, _sampler_from_kwargs, _SAMPLER_KEYS
from .tokenizer_utils import TokenizerWrapper

_lm = core.lm


@dataclass
class BatchStats:
    prompt_tokens: int = 0
    prompt_tps: float = 0.0
    prompt_time: float = 0.0
    generation_tokens: int = 0
    generation_tps: float = 0.0
    generation_time: float = 0.0
    peak_memory: float = 0.0  # GB
    batch_size: int = 0


@dataclass
class BatchResponse:
    texts: List[str]
    stats: BatchStats
    tokens: List[List[int]] = field(default_factory=list)
    finish_reasons: List[str] = field(default_factory=list)


def batch_generate(model, tokenizer, prompts, max_tokens=128, verbose=False, **kwargs):
    """Generates for each prompt (str or token ids; an empty one starts from BOS). With greedy sampling each
    text equals generate() on that prompt alone. Keyword arguments: batch_size= (default: from free
    memory), stop_strings=, eos_ids=, sampler= (make_sampler) or temp, top_p, top_k, min_p, seed, ...
    tokenizer may be None when prompts are token ids (texts are then empty)."""
    if isinstance(prompts, (str, bytes)) or not hasattr(prompts, "__len__"):
        raise TypeError("[batch_generate] prompts must be a list of prompts")
    if len(prompts) == 0:
        raise ValueError("[batch_generate] no prompts given")
    if tokenizer is not None and not isinstance(tokenizer, TokenizerWrapper):
        tokenizer = TokenizerWrapper(tokenizer)
    ids = []
    for p in prompts:
        if tokenizer is not None:
            ids.append(_prompt_ids(tokenizer, p))
        elif isinstance(p, str):
            raise TypeError("[batch_generate] text prompts need a tokenizer")
        else:
            ids.append([int(t) for t in p])
    sampler = kwargs.pop("sampler", None)
    if sampler is None and any(k in kwargs for k in _SAMPLER_KEYS):
        sampler = _sampler_from_kwargs(kwargs)
    if sampler is not None and not isinstance(sampler, _lm.Sampler):
        raise TypeError("[batch_generate] sampler must be a tessera.core.lm.Sampler (make_sampler)")
    batch_size = int(kwargs.pop("batch_size", None) or 0)
    stop_strings = list(kwargs.pop("stop_strings", None) or [])
    eos_ids = kwargs.pop("eos_ids", None)
    if kwargs:
        raise TypeError(f"[batch_generate] unexpected keyword arguments: {sorted(kwargs)}")
    r = _lm.batch_generate(model, tokenizer.core if tokenizer is not None else None, ids, max_tokens,
                           eos_ids=None if eos_ids is None else [int(t) for t in eos_ids],
                           stop_strings=stop_strings, batch_size=batch_size, sampler=sampler)
    stats = BatchStats(prompt_tokens=r.prompt_tokens, prompt_tps=r.prompt_tps, prompt_time=r.prompt_time,
                       generation_tokens=r.generation_tokens, generation_tps=r.generation_tps,
                       generation_time=r.generation_time, peak_memory=r.peak_memory_mb / 1e3,
                       batch_size=r.batch_size)
    if verbose:
        for i, t in enumerate(r.texts):
            print(f"[{i}] {t}")
        print(f"Prompt: {stats.prompt_tokens} tokens, {stats.prompt_tps:.3f} tokens-per-sec")
        print(f"Generation: {stats.generation_tokens} tokens, {stats.generation_tps:.3f} tokens-per-sec")
        print(f"Peak memory: {stats.peak_memory:.3f} GB")
    return BatchResponse(texts=list(r.texts), stats=stats, tokens=[list(t) for t in r.tokens],
                         finish_reasons=list(r.finish_reasons))
