"""Text generation as MLX-LM's mlx_lm.generate: stream_generate, generate, and the command line
`python -m tessera.lm.generate --model PATH --prompt TEXT` (which runs the C++ generation loop, as `tessera generate`)."""

import argparse
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Optional

from .. import core
from .tokenizer_utils import TokenizerWrapper

_lm = core.lm
_SAMPLER_KEYS = ("temp", "top_p", "top_k", "min_p", "min_tokens_to_keep", "repetition_penalty",
                 "repetition_context_size", "logit_bias", "seed")


@dataclass
class GenerationResponse:
    """One generated token: text is the newly completed piece (possibly empty)."""

    text: str
    token: int
    logprobs: Any = field(repr=False)  # (vocab_size,) float32 log-probabilities the token was drawn from
    from_draft: bool
    prompt_tokens: int
    prompt_tps: float
    generation_tokens: int
    generation_tps: float
    peak_memory: float  # GB
    finish_reason: Optional[str] = None


def _sampler_from_kwargs(kwargs):
    args = {k: kwargs.pop(k) for k in _SAMPLER_KEYS if k in kwargs}
    if "logit_bias" in args:
        args["logit_bias"] = {int(k): float(v) for k, v in (args["logit_bias"] or {}).items()}
    if "top_p" in args and not (0 < args["top_p"] < 1):
        args["top_p"] = 1.0
    return _lm.Sampler(**args)


def _quantize_cache(cache, kv_bits, kv_group_size, quantized_kv_start):
    if kv_bits:
        cache.set_quantization(int(kv_bits), int(kv_group_size), int(quantized_kv_start))


def generate_step(prompt, model, *, max_tokens=256, sampler=None, logits_processors=None, max_kv_size=0,
                  prompt_cache=None, kv_bits=None, kv_group_size=64, quantized_kv_start=0):
    """Yields (token, logprobs) one step at a time: the prompt in one forward pass, then one token per step
    through the KV cache. sampler: a tessera.core.lm.Sampler (given logits and the token history) or any
    callable of log-probabilities (1, V) -> token ids (1,). kv_bits (4 or 8; None: full precision) keeps
    the KV cache quantized (group kv_group_size along head_dim) once it holds quantized_kv_start tokens."""
    tokens = [int(t) for t in prompt]
    if not tokens:
        raise ValueError("[generate] the prompt has no tokens")
    todo = tokens
    record = prompt_cache if isinstance(prompt_cache, _lm.PromptCache) else None
    if record is not None:  # reuse its prefix of the prompt; it records what runs through it
        todo = record.prepare(model, tokens)
        cache = record.kv
    else:
        cache = prompt_cache if prompt_cache is not None else model.make_cache(max_kv_size)
    _quantize_cache(cache, kv_bits, kv_group_size, quantized_kv_start)
    sampler = sampler if sampler is not None else _lm.Sampler()
    history = list(tokens)

    def step(ids):
        logits = model(core.array([ids], dtype=core.int32), cache)[:, -1, :]  # (1, V)
        if record is not None:
            record.append(ids)
        for proc in logits_processors or []:
            logits = proc(core.array(history, dtype=core.int32), logits)
        logprobs = logits - core.logsumexp(logits, axis=-1, keepdims=True)
        if isinstance(sampler, _lm.Sampler):
            y = sampler(logits, history)
        else:
            y = sampler(logprobs)
        core.eval(y, logprobs)
        return int(y.reshape(-1)[0].item()), logprobs[0]

    n = 0
    token, logprobs = step(todo)
    while n < max_tokens:
        yield token, logprobs
        n += 1
        if n == max_tokens:
            break
        history.append(token)
        token, logprobs = step([token])


def speculative_generate_step(prompt, model, draft_model, *, num_draft_tokens=3, max_tokens=256, sampler=None,
                              logits_processors=None, max_kv_size=0, prompt_cache=None, kv_bits=None,
                              kv_group_size=64, quantized_kv_start=0):
    """Yields (token, logprobs, from_draft): the draft model proposes num_draft_tokens greedy tokens per step
    and the model keeps them up to its first disagreement (the C++ GenerateStep), so the output is the
    model's own. logprobs is None here. sampler: a tessera.core.lm.Sampler or None (greedy)."""
    if sampler is not None and not isinstance(sampler, _lm.Sampler):
        raise ValueError("[generate] draft_model needs a tessera.core.lm.Sampler (make_sampler) as sampler")
    if logits_processors:
        raise ValueError("[generate] logits_processors are not supported with draft_model")
    if prompt_cache is not None and not isinstance(prompt_cache, _lm.PromptCache):
        raise TypeError("[generate] prompt_cache with draft_model must be a PromptCache (make_prompt_cache)")
    stepper = _lm.GenerateStep(model, [int(t) for t in prompt], prompt_cache=prompt_cache, draft_model=draft_model,
                               num_draft_tokens=num_draft_tokens, max_kv_size=max_kv_size, sampler=sampler,
                               kv_bits=int(kv_bits or 0), kv_group_size=int(kv_group_size),
                               quantized_kv_start=int(quantized_kv_start))
    n = 0
    while n < max_tokens:
        for token, from_draft in stepper.next(max_tokens - n):
            yield token, None, from_draft
            n += 1


def _prompt_ids(tokenizer, prompt):
    if isinstance(prompt, str):
        bos = tokenizer.bos_token
        add_special = bos is None or not prompt.startswith(bos)
        ids = tokenizer.encode(prompt, add_special_tokens=add_special)
    elif isinstance(prompt, core.array):
        ids = [int(t) for t in prompt.reshape(-1).tolist()]
    else:
        ids = [int(t) for t in prompt]
    if not ids:
        if tokenizer.bos_token_id is None:
            raise ValueError("[generate] empty prompt and the tokenizer has no BOS token")
        ids = [tokenizer.bos_token_id]
    return ids


def stream_generate(model, tokenizer, prompt, max_tokens=256, **kwargs):
    """Yields a GenerationResponse per generated token. prompt: str or token ids. Keyword arguments:
    sampler= (make_sampler) or temp, top_p, top_k, min_p, min_tokens_to_keep, seed, repetition_penalty,
    repetition_context_size, logit_bias; logits_processors=, max_kv_size=, prompt_cache= (a KVCache that is
    continued, or a PromptCache from make_prompt_cache whose shared prefix with the prompt is reused);
    draft_model= and num_draft_tokens= for speculative decoding (greedy-exact); kv_bits= (4 or 8),
    kv_group_size= (64) and quantized_kv_start= (0) for a quantized KV cache (MLX-LM's QuantizedKVCache)."""
    if not isinstance(tokenizer, TokenizerWrapper):
        tokenizer = TokenizerWrapper(tokenizer)
    ids = _prompt_ids(tokenizer, prompt)
    if kwargs.get("sampler") is None and any(k in kwargs for k in _SAMPLER_KEYS):
        kwargs["sampler"] = _sampler_from_kwargs(kwargs)
    unknown = set(kwargs) - {"sampler", "logits_processors", "max_kv_size", "prompt_cache", "draft_model",
                             "num_draft_tokens", "kv_bits", "kv_group_size", "quantized_kv_start"}
    if unknown:
        raise TypeError(f"[generate] unexpected keyword arguments: {sorted(unknown)}")
    draft_model = kwargs.pop("draft_model", None)
    num_draft_tokens = kwargs.pop("num_draft_tokens", 3)
    if draft_model is not None:
        steps = speculative_generate_step(ids, model, draft_model, num_draft_tokens=num_draft_tokens,
                                          max_tokens=max_tokens, **kwargs)
    else:
        steps = ((t, lp, False) for t, lp in generate_step(ids, model, max_tokens=max_tokens, **kwargs))
    detokenizer = tokenizer.detokenizer
    detokenizer.set_context(ids)
    eos = tokenizer.eos_token_ids

    core.reset_peak_memory()
    tic = time.perf_counter()
    prompt_time = 0.0
    token = None
    logprobs = None
    n = -1
    from_draft = False
    for n, (token, logprobs, from_draft) in enumerate(steps):
        if n == 0:
            prompt_time = time.perf_counter() - tic
            prompt_tps = len(ids) / prompt_time if prompt_time > 0 else 0.0
            tic = time.perf_counter()
        if token in eos:
            break
        detokenizer.add_token(token)
        if (n + 1) == max_tokens:
            break
        yield GenerationResponse(
            text=detokenizer.last_segment, token=token, logprobs=logprobs, from_draft=from_draft,
            prompt_tokens=len(ids), prompt_tps=prompt_tps, generation_tokens=n + 1,
            generation_tps=(n + 1) / max(time.perf_counter() - tic, 1e-9),
            peak_memory=core.get_peak_memory() / 1e9, finish_reason=None)
    if n < 0:
        return  # max_tokens == 0
    detokenizer.finalize()
    yield GenerationResponse(
        text=detokenizer.last_segment, token=token, logprobs=logprobs, from_draft=from_draft,
        prompt_tokens=len(ids), prompt_tps=prompt_tps, generation_tokens=n + 1,
        generation_tps=(n + 1) / max(time.perf_counter() - tic, 1e-9),
        peak_memory=core.get_peak_memory() / 1e9, finish_reason="stop" if token in eos else "length")


def generate(model, tokenizer, prompt, verbose=False, stream=False, **kwargs):
    """The generated text (without the prompt). verbose prints it as it streams, then the statistics.
    stream=True returns an iterator of the text pieces instead (as stream_generate's response.text)."""
    if stream:
        return (response.text for response in stream_generate(model, tokenizer, prompt, **kwargs))
    text = ""
    response = None
    for response in stream_generate(model, tokenizer, prompt, **kwargs):
        if verbose:
            print(response.text, end="", flush=True)
        text += response.text
    if verbose:
        print()
        print("=" * 10)
        if response is None or response.generation_tokens == 0:
            print("No text generated for this prompt")
        else:
            print(f"Prompt: {response.prompt_tokens} tokens, {response.prompt_tps:.3f} tokens-per-sec")
            print(f"Generation: {response.generation_tokens} tokens, {response.generation_tps:.3f} tokens-per-sec")
            print(f"Peak memory: {response.peak_memory:.3f} GB")
    return text


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m tessera.lm.generate", description="Generate text with a model.")
    p.add_argument("--model", required=True, help="model checkpoint (llama2.c .bin)")
    p.add_argument("--tokenizer", default="", help="tokenizer (default: tokenizer.bin or tok*.bin next to the model)")
    p.add_argument("--prompt", default="", help="prompt text (default: empty, start from BOS); '-' reads stdin")
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument("--temp", type=float, default=0.0)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=0)
    p.add_argument("--min-p", type=float, default=0.0)
    p.add_argument("--repetition-penalty", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--echo", action="store_true", help="print the prompt before the generated text")
    p.add_argument("--kv-bits", type=int, default=0, help="quantize the KV cache to 4 or 8 bits (default: off)")
    p.add_argument("--kv-group-size", type=int, default=64, help="quantized KV cache group size (default 64)")
    p.add_argument("--quantized-kv-start", type=int, default=0,
                   help="tokens kept in full precision before the KV cache is quantized (default 0)")
    args = p.parse_args(argv)
    if args.max_tokens < 0:
        p.error("--max-tokens must be >= 0")
    if args.temp < 0:
        p.error("--temp must be >= 0")
    if not (0 < args.top_p <= 1):
        p.error("--top-p must be in (0, 1]")
    if args.top_k < 0:
        p.error("--top-k must be >= 0")
    if not (0 <= args.min_p <= 1):
        p.error("--min-p must be in [0, 1]")
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    try:
        model, tokenizer = _lm.load(args.model, args.tokenizer)
        ids = tokenizer.encode(prompt, True)
        if args.echo:
            sys.stdout.write(prompt)
            sys.stdout.flush()

        def on_piece(piece):
            sys.stdout.write(piece)
            sys.stdout.flush()

        r = _lm.generate(model, tokenizer, ids, args.max_tokens, on_piece=on_piece, temp=args.temp, top_p=args.top_p,
                         top_k=args.top_k, min_p=args.min_p, repetition_penalty=args.repetition_penalty,
                         seed=args.seed, kv_bits=args.kv_bits, kv_group_size=args.kv_group_size,
                         quantized_kv_start=args.quantized_kv_start)
    except (RuntimeError, ValueError, IndexError, OSError) as e:
        print(f"tessera generate: error: {e}", file=sys.stderr)
        return 1
    sys.stdout.write("\n")
    sys.stdout.flush()
    print("==========", file=sys.stderr)
    print(f"Prompt: {r.prompt_tokens} tokens, {r.prompt_tps:.1f} tokens-per-sec", file=sys.stderr)
    print(f"Generation: {r.generation_tokens} tokens, {r.generation_tps:.1f} tokens-per-sec", file=sys.stderr)
    print(f"Peak memory: {r.peak_memory_mb:.3f} MB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
