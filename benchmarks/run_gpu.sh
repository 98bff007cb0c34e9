#!/usr/bin/env bash
# Runs the GPU kernel benchmark (building it if needed) and the same cases in PyTorch; prints both
# tables (case, median us, rate, fraction of the measured device-to-device copy bandwidth).
# Usage: benchmarks/run_gpu.sh [build-dir] [batches]
# TESSERA_CUBLASLT=0|1 forces cuBLAS / cuBLASLt for 16-bit matmuls (default: Lt above 16 rows).
# Few-row 16-bit matmuls are autotuned on first use: TESSERA_GEMM_AUTOTUNE=0 off, =2 prints the
# timings; TESSERA_GEMV=0|1 never / always takes the tensor-core GEMV for x @ W.T.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build-gpu-bench}"
batches="${2:-7}"
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTESSERA_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90 -DTESSERA_BUILD_BENCHMARKS=ON -DTESSERA_BUILD_TESTS=OFF > /dev/null
fi
ninja -C "$build" gpu_bench > /dev/null
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2> /dev/null || true
echo "== tessera =="
"$build/gpu_bench" "$batches"
echo
echo "== PyTorch =="
if python3 -c 'import torch; assert torch.cuda.is_available()' 2> /dev/null; then
  python3 "$root/benchmarks/gpu_torch_ref.py" "$batches"
else
  echo "PyTorch with CUDA not found: no reference table"
fi
