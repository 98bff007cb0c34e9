#!/usr/bin/env bash
# Runs every test: the C++ GoogleTest suites, then the Python suites (pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
# CUDA code is compiled (when nvcc is present) for Hopper only here, to keep the test build short;
# GPU tests run on a GPU machine (see README), not in this script.
export TESSERA_CUDA_ARCHS=${TESSERA_CUDA_ARCHS:-90}
scripts/build.sh
PY=${PYTHON:-python3}
echo "== C++ tests"
./build/tessera_tests --gtest_brief=1
echo "== Fuzz (libFuzzer, 15 s per parser over the committed corpus)"
scripts/fuzz.sh 15
echo "== Python tests"
$PY -m pytest -q python/tests
