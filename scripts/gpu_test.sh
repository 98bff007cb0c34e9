#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: builds tessera for it and runs the GPU tests (the whole C++ suite
# with the GPU as default device, then tessera_gpu_tests), then the stories260K generation check.
# CI has no GPU and does not run this; see README "Testing on a GPU".
set -uo pipefail
cd "$(dirname "$0")/.."
ARCHS=${TESSERA_CUDA_ARCHS:-90}
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DTESSERA_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES="$ARCHS" ${TESSERA_CMAKE_ARGS:-} > build-gpu.log 2>&1 || { tail -40 build-gpu.log; exit 1; }
ninja -C build-gpu -k 0 tessera_tests tessera_gpu_tests tessera >> build-gpu.log 2>&1 || { grep -E "error|FAILED" build-gpu.log | head -40; exit 1; }
./build-gpu/tessera_tests --gtest_brief=1 ${GTEST_FILTER:+--gtest_filter=$GTEST_FILTER}
rc_all=$?
./build-gpu/tessera_gpu_tests --gtest_brief=1
rc_gpu=$?
./build-gpu/tessera generate --model models/stories260K/stories260K.bin --prompt "" --max-tokens 256 --temp 0 \
  > build-gpu/greedy.txt
rc_gen=$?
echo "== tessera_tests (GPU default device): rc=$rc_all; tessera_gpu_tests: rc=$rc_gpu; generate: rc=$rc_gen"
[[ $rc_all == 0 && $rc_gpu == 0 && $rc_gen == 0 ]]
