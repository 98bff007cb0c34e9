#!/usr/bin/env bash
# Installs what tessera needs (apt-get + pip), builds the library, CLI and Python package, then runs
# the main job. Text generation (issue 6) is not built yet: for now the main job is a short demo of
# the array library through the Python package and the `tessera` command.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
PY=${PYTHON:-python3}
tessera version
$PY examples/python/quickstart.py
