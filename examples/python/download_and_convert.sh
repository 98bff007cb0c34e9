#!/usr/bin/env bash
# Download a model from the Hugging Face Hub, generate with it, and convert it (as MLX-LM's README:
# mlx_lm.convert --hf-path ... -q). Needs network access for the download; afterwards everything runs
# offline from the Hugging Face cache.
#
#   examples/python/download_and_convert.sh [org/name]
set -euo pipefail
REPO=${1:-HuggingFaceTB/SmolLM2-135M-Instruct}
OUT=${OUT:-/tmp/$(basename "$REPO")-q4}

# Into ~/.cache/huggingface/hub (or $HF_HUB_CACHE); prints the snapshot directory.
tessera download "$REPO"

# The hub id now loads offline, in the CLI and in Python.
tessera generate --model "$REPO" --prompt "Write a haiku about the sea." --max-tokens 50
python3 -c "from tessera.lm import load, generate; m, t = load('$REPO'); print(generate(m, t, 'Hello', max_tokens=20))"

# How far is a 4-bit conversion from the original? Quantize, then compare on a text.
tessera convert --hf-path "$REPO" -q --q-bits 4 --mlx-path "$OUT"
tessera kl --model "$OUT" --reference "$REPO" --file ../shared/data/corpora/tinyshakespeare.txt --max-tokens 2048
