#!/usr/bin/env bash
# Runs the CPU benchmark (building it if needed) with numpy's softmax/rms_norm as the reference;
# the table printed last has: workload, tessera, reference, limit, ratio.
# Usage: benchmarks/run_cpu.sh [build-dir] [section: all|gemm|elementwise|rows|graph]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build-bench}"
section="${2:-all}"
if [ ! -x "$build/cpu_bench" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTESSERA_CUDA=OFF \
    -DTESSERA_BUILD_BENCHMARKS=ON -DTESSERA_BUILD_TESTS=OFF > /dev/null
fi
ninja -C "$build" cpu_bench > /dev/null
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; load:$(uptime | sed 's/.*load average://')"
if python3 -c 'import numpy' 2> /dev/null; then
  # NUMPY_SOFTMAX_MS=... and NUMPY_RMS_NORM_MS=... become the environment of cpu_bench.
  while IFS= read -r line; do
    case "$line" in NUMPY_*=*) export "${line?}" ;; esac
  done < <(python3 "$root/benchmarks/numpy_ref.py")
else
  echo "numpy not found: softmax/rms_norm rows have no reference"
fi
"$build/cpu_bench" "$section"
