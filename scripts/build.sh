#!/usr/bin/env bash
# Builds the C++ library, CLI, tests, benchmarks and the Python extension in one build directory
# (build/, ccache-backed), then installs the Python package from that same build (which also puts
# the `tessera` command on the PATH), so nothing is compiled twice.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
PY_EXE=$(command -v "$PY")
JOBS=${JOBS:-$(nproc)}
# TESSERA_CUDA_ARCHS (e.g. "90" or "80;90") narrows the CUDA targets (default: 80 86 89 90).
ARGS=(-DCMAKE_BUILD_TYPE=Release -DTESSERA_BUILD_PYTHON=ON -DTESSERA_BUILD_TESTS=ON
      -DTESSERA_BUILD_BENCHMARKS=ON -DPython_EXECUTABLE="$PY_EXE")
if [[ -n "${TESSERA_CUDA_ARCHS:-}" ]]; then
  ARGS+=(-DCMAKE_CUDA_ARCHITECTURES="${TESSERA_CUDA_ARCHS}")
fi
cmake -S . -B build -G Ninja "${ARGS[@]}" ${TESSERA_CMAKE_ARGS:-} > build.log 2>&1 || { cat build.log; exit 1; }
ninja -C build -j"$JOBS" >> build.log 2>&1 || { grep -E "error|FAILED" build.log | head -40; exit 1; }
echo "== built the C++ library, CLI, tests and Python extension in build/"
# pip reuses build/ (same options), so this step only packages and installs.
PIP_ARGS=(-C build-dir=build)
for a in "${ARGS[@]}" ${TESSERA_CMAKE_ARGS:-}; do
  a=${a#-D}
  PIP_ARGS+=(-C "cmake.define.${a%%=*}=${a#*=}")
done
if ! $PY -m pip install -q --disable-pip-version-check --no-build-isolation "${PIP_ARGS[@]}" . > pip.log 2>&1; then
  grep -v "Running pip as the 'root' user" pip.log | tail -40
  echo "pip install failed (log: pip.log)"; exit 1
fi
$PY -c "import tessera.core" || { echo "python package failed to import"; exit 1; }
echo "== installed the tessera Python package and the tessera command"
