"""Model conversion (MLX-LM's mlx_lm.convert): a HF / MLX directory, GGUF file or llama2.c checkpoint to a
Hugging Face style directory or a GGUF file, with dtype casts, quantization or dequantization. The work is
done by the C++ tessera::lm::convert, as `tessera convert`; `python -m tessera.lm.convert` takes the same
flags."""

import argparse
import os
import sys
import time

from .. import core

_DTYPES = {"f16": core.float16, "float16": core.float16, "bf16": core.bfloat16, "bfloat16": core.bfloat16,
           "f32": core.float32, "float32": core.float32}
RECIPES = ("mixed_2_6", "mixed_3_4", "mixed_3_6", "mixed_4_6")


def convert(model, out, dtype=None, quantize=False, q_bits=4, q_group_size=64, q_recipe=None, dequantize=False,
            tokenizer=None, max_shard_size_gb=5.0, progress=None):
    """Converts `model` into `out` (a directory, or a GGUF file when it ends in .gguf). See `tessera convert`."""
    if dtype is not None and dtype not in _DTYPES:
        raise ValueError(f"[convert] unknown dtype {dtype!r} (f16, bf16, f32)")
    core.lm.convert(os.fspath(model), os.fspath(out), _DTYPES[dtype] if dtype else None, bool(quantize), int(q_bits),
                    int(q_group_size), q_recipe or "", bool(dequantize), os.fspath(tokenizer) if tokenizer else "",
                    float(max_shard_size_gb), progress)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m tessera.lm.convert", description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="HF/MLX directory, .gguf file or llama2.c .bin")
    p.add_argument("--out", required=True, help="output directory, or a .gguf file")
    p.add_argument("--dtype", choices=sorted(_DTYPES), help="cast the floating weights")
    p.add_argument("-q", "--quantize", action="store_true", help="quantize linear and embedding weights")
    p.add_argument("--q-bits", type=int, default=4, help="bits per weight (2, 3, 4, 5, 6, 8; default 4)")
    p.add_argument("--q-group-size", type=int, default=64, help="values per scale (32, 64, 128; default 64)")
    p.add_argument("--q-recipe", choices=RECIPES, help="mixed-precision recipe (implies --quantize)")
    p.add_argument("--dequantize", action="store_true", help="store quantized weights dense")
    p.add_argument("--tokenizer", help="tokenizer directory, tokenizer.json or SentencePiece .model to copy")
    p.add_argument("--max-shard-size", type=float, default=5.0, help="safetensors shard size in GB (default 5)")
    a = p.parse_args(argv)
    t0 = time.time()
    try:
        convert(a.model, a.out, a.dtype, a.quantize, a.q_bits, a.q_group_size, a.q_recipe, a.dequantize, a.tokenizer,
                a.max_shard_size, progress=lambda line: print(line, file=sys.stderr, flush=True))
    except (ValueError, RuntimeError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"[convert] done in {time.time() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
