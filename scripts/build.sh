#!/usr/bin/env bash
# Builds the C++ library, CLI, tests and benchmarks into build/ (ccache-backed), then installs the
# Python package (which puts the `tessera` command on the PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
JOBS=${JOBS:-$(nproc)}
# TESSERA_CUDA_ARCHS (e.g. "90" or "80;90") narrows the CUDA targets (default: 80 86 89 90).
ARCH_ARGS=()
if [[ -n "${TESSERA_CUDA_ARCHS:-}" ]]; then
  ARCH_ARGS=(-DCMAKE_CUDA_ARCHITECTURES="${TESSERA_CUDA_ARCHS}")
  export CMAKE_ARGS="${CMAKE_ARGS:-} -DCMAKE_CUDA_ARCHITECTURES=${TESSERA_CUDA_ARCHS}"  # for pip's build
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${ARCH_ARGS[@]}" ${TESSERA_CMAKE_ARGS:-} > build.log 2>&1 \
  || { cat build.log; exit 1; }
ninja -C build -j"$JOBS" >> build.log 2>&1 || { tail -50 build.log; exit 1; }
echo "== built C++ library, CLI and tests in build/"
$PY -m pip install -q --disable-pip-version-check --no-build-isolation . 2>&1 \
  | grep -v "Running pip as the 'root' user" || true
$PY -c "import tessera.core" || { echo "python package failed to import"; exit 1; }
echo "== installed the tessera Python package and the tessera command"
