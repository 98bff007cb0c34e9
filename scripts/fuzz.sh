#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang) against build/libtessera.a and runs each one for
# SECONDS (default 20) over its committed corpus. Usage: scripts/fuzz.sh [SECONDS] [target...]
# A long run (the issue asks 10 minutes each): scripts/fuzz.sh 600. New inputs libFuzzer finds go
# to build-fuzz/corpus-new/<target> (merge them into tests/fuzz/corpus with -merge=1 if useful).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-20}; shift || true
TARGETS=("$@"); [[ ${#TARGETS[@]} == 0 ]] && TARGETS=(fuzz_safetensors fuzz_npy fuzz_gguf)
[[ -f build/libtessera.a ]] || scripts/build.sh
CC=clang CXX=clang++ cmake -S tests/fuzz -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTESSERA_BUILD_DIR="$PWD/build" ${TESSERA_CMAKE_ARGS:-} > build-fuzz.log 2>&1 || { tail -30 build-fuzz.log; exit 1; }
ninja -C build-fuzz "${TARGETS[@]}" >> build-fuzz.log 2>&1 || { grep -E "error" build-fuzz.log | head -30; exit 1; }
for t in "${TARGETS[@]}"; do
  mkdir -p build-fuzz/corpus-new/$t
  echo "== $t: ${SECONDS_EACH}s over tests/fuzz/corpus/$t"
  # The committed corpus is read-only input; findings go to corpus-new. Leak checks on.
  set +e
  ASAN_OPTIONS=detect_leaks=1 ./build-fuzz/$t -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix=build-fuzz/ build-fuzz/corpus-new/$t tests/fuzz/corpus/$t \
    > build-fuzz/$t.log 2>&1
  rc=$?
  set -e
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+ +DONE|ERROR|SUMMARY" build-fuzz/$t.log || true
  [[ $rc == 0 ]] || { tail -30 build-fuzz/$t.log; echo "$t FAILED (rc=$rc; inputs in build-fuzz/crash-* etc.)"; exit 1; }
done
