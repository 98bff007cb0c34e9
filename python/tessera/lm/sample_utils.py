"""Samplers and logits processors as MLX-LM's sample_utils, backed by tessera.core.lm.Sampler (C++)."""

from .. import core

_lm = core.lm


def make_sampler(temp=0.0, top_p=0.0, min_p=0.0, min_tokens_to_keep=1, top_k=0, seed=0):
    """A sampler: logits or log-probabilities (B, V) -> token ids (B,). temp 0 is greedy; top_p in (0, 1),
    min_p > 0 and top_k > 0 turn those filters on. seed starts the sampler's own random key."""
    return _lm.Sampler(temp=temp, top_p=top_p if 0 < top_p < 1 else 1.0, top_k=top_k, min_p=min_p,
                       min_tokens_to_keep=min_tokens_to_keep, seed=seed)


def make_logits_processors(logit_bias=None, repetition_penalty=None, repetition_context_size=20):
    """Functions (tokens, logits) -> logits: logit bias ({id: bias}) and repetition penalty."""
    processors = []
    if logit_bias:
        bias = {int(k): float(v) for k, v in logit_bias.items()}
        processors.append(lambda tokens, logits: _lm.apply_logit_bias(logits, bias))
    if repetition_penalty and repetition_penalty != 1.0:
        if repetition_penalty < 0:
            raise ValueError(f"[sample] repetition_penalty must be a non-negative float, got {repetition_penalty}")

        def penalty(tokens, logits):
            context = [int(t) for t in list(tokens)[-repetition_context_size:]] if repetition_context_size > 0 else []
            return _lm.apply_repetition_penalty(logits, context, repetition_penalty)

        processors.append(penalty)
    return processors
