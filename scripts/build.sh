#!/usr/bin/env bash
# Builds the C++ library, CLI, tests and benchmarks into build/ (ccache-backed), then installs the
# Python package (which puts the `tessera` command on the PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
JOBS=${JOBS:-$(nproc)}
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release ${TESSERA_CMAKE_ARGS:-} > build.log 2>&1 || { cat build.log; exit 1; }
ninja -C build -j"$JOBS" >> build.log 2>&1 || { tail -50 build.log; exit 1; }
echo "== built C++ library, CLI and tests in build/"
$PY -m pip install -q --disable-pip-version-check --no-build-isolation . 2>&1 \
  | grep -v "Running pip as the 'root' user" || true
$PY -c "import tessera.core" || { echo "python package failed to import"; exit 1; }
echo "== installed the tessera Python package and the tessera command"
