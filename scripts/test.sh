#!/usr/bin/env bash
# Runs every test: the C++ GoogleTest suites, then the Python suites (pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
PY=${PYTHON:-python3}
echo "== C++ tests"
./build/tessera_tests --gtest_brief=1
echo "== Python tests"
$PY -m pytest -q python/tests
