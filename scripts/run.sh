#!/usr/bin/env bash
# Installs what tessera needs (apt-get + pip), builds the library, CLI and Python package, then runs
# the main job: text generation with the bundled stories260K model through `tessera generate`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
PY=${PYTHON:-python3}
tessera version
$PY examples/python/quickstart.py
echo "== tessera generate (stories260K, greedy)"
tessera generate --model models/stories260K/stories260K.bin --prompt "Once upon a time" --max-tokens 200 --echo
