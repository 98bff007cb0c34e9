"""Perplexity of a model on a text, and the KL divergence of a model from a reference model (e.g. a
quantized model from its 16-bit original); the command line `python -m tessera.lm.perplexity` matches
`tessera perplexity`."""

import argparse
import json
import sys

from .. import core
from .tokenizer_utils import TokenizerWrapper

_lm = core.lm


def _decoder(model):
    """The tessera.core.lm.Llama behind a model (itself, or tessera.lm.models.Llama's)."""
    if isinstance(model, _lm.Llama):
        return model
    inner = getattr(model, "decoder", None)
    if isinstance(inner, _lm.Llama):
        return inner
    raise TypeError(f"[perplexity] expected a model from tessera.lm.load or tessera.lm.models, got {type(model).__name__}")


def _tokens(tokenizer, text, max_tokens):
    if not isinstance(text, str):
        return [int(t) for t in text][: max_tokens or None]
    core_tok = tokenizer.core if isinstance(tokenizer, TokenizerWrapper) else tokenizer
    return _lm.perplexity_tokens(core_tok, text, max_tokens or 0)


def perplexity(model, tokenizer, text, context=512, stride=None, max_tokens=None, kv_bits=None, kv_group_size=64):
    """PerplexityResult (perplexity, mean_nll, nll_sum, tokens, windows) of model on text (a str, tokenized
    with BOS, or token ids). Windows of `context` tokens start every `stride` (default: context) tokens; each
    scores its tokens after the first that no earlier window scored; max_tokens keeps the first tokens.
    kv_bits (4 or 8): the windows run through a KV cache quantized from the first token."""
    ids = _tokens(tokenizer, text, max_tokens)
    return _lm.perplexity(_decoder(model), ids, context, stride or 0, max_tokens or 0, int(kv_bits or 0),
                          int(kv_group_size))


def kl_divergence(model, reference, tokenizer, text, context=512, stride=None, max_tokens=None, kv_bits=None,
                  kv_group_size=64):
    """KLResult: mean_kl and max_kl of KL(P_reference || P_model) per scored token (nats), top1_agreement,
    and both PerplexityResults (model, reference), over the windows perplexity() uses. kv_bits: the model's
    (not the reference's) KV cache is quantized, so kl_divergence(m, m, ..., kv_bits=8) is what it costs."""
    ids = _tokens(tokenizer, text, max_tokens)
    return _lm.kl_divergence(_decoder(model), _decoder(reference), ids, context, stride or 0, max_tokens or 0,
                             int(kv_bits or 0), int(kv_group_size))


def _ppl_dict(r):
    return {"perplexity": r.perplexity, "mean_nll": r.mean_nll, "tokens": r.tokens, "windows": r.windows}


def main(argv=None):
    from .utils import load

    p = argparse.ArgumentParser(prog="python -m tessera.lm.perplexity",
                                description="Perplexity of a model on a text file (and KL divergence with --compare).")
    p.add_argument("--model", required=True, help="model path or Hugging Face id in the local cache")
    p.add_argument("--tokenizer", default=None, help="tokenizer (default: the model's)")
    p.add_argument("--file", required=True, help="text file to score ('-': stdin)")
    p.add_argument("--context", type=int, default=512, help="tokens per forward pass (default 512)")
    p.add_argument("--stride", type=int, default=0, help="window start step, 1..context (default: context)")
    p.add_argument("--max-tokens", type=int, default=0, help="use only the first N tokens (default: all)")
    p.add_argument("--compare", default=None, help="reference model for KL(P_ref || P_model) and top-1 agreement")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    if args.context < 2:
        p.error("--context must be >= 2")
    if not (0 <= args.stride <= args.context):
        p.error("--stride must be in [1, --context]")
    if args.max_tokens < 0:
        p.error("--max-tokens must be >= 0")
    try:
        if args.file == "-":
            text = sys.stdin.read()
        else:
            with open(args.file, encoding="utf-8", errors="replace") as f:
                text = f.read()
        model, tokenizer = load(args.model, tokenizer_path=args.tokenizer)
        out = {"model": args.model, "file": args.file, "context": args.context, "stride": args.stride or args.context}
        if args.compare is None:
            r = perplexity(model, tokenizer, text, args.context, args.stride, args.max_tokens)
            out.update(_ppl_dict(r))
        else:
            reference, _ = load(args.compare, tokenizer_path=args.tokenizer)
            k = kl_divergence(model, reference, tokenizer, text, args.context, args.stride, args.max_tokens)
            r = k.model
            out.update(_ppl_dict(r))
            out.update({"reference": args.compare, "reference_perplexity": k.reference.perplexity,
                        "reference_mean_nll": k.reference.mean_nll, "mean_kl": k.mean_kl, "max_kl": k.max_kl,
                        "top1_agreement": k.top1_agreement})
    except (RuntimeError, ValueError, IndexError, OSError) as e:
        print(f"tessera perplexity: error: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"Model: {args.model}")
    if args.compare is not None:
        print(f"Reference: {args.compare}")
    print(f"Tokens: {r.tokens} scored in {r.windows} windows (context {out['context']}, stride {out['stride']})")
    if args.compare is None:
        print(f"Mean NLL: {r.mean_nll:.6f} nats/token\nPerplexity: {r.perplexity:.4f}")
    else:
        print(f"Perplexity: {r.perplexity:.4f} (reference {out['reference_perplexity']:.4f})")
        print(f"KL(reference || model): mean {out['mean_kl']:.6f}, max {out['max_kl']:.6f} nats/token")
        print(f"Top-1 agreement: {100 * out['top1_agreement']:.2f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
