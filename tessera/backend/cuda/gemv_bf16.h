// Launcher of the few-row 16-bit GEMV on tensor cores (gemv_bf16.cu): out (M, N) = x (M, K) @ W^T
// for a row-major weight W (N, K) and M <= 16 (decode linear layers), float32 accumulation.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace tessera::cuda {

// True when gemv_half takes the problem: dt f16/bf16, 1 <= M <= 16, K a multiple of 8, row
// strides (elements) multiples of 8 and x, w, out 16-byte aligned.
bool gemv_half_supported(int dt, int64_t M, int64_t N, int64_t K, const void* x, int64_t ldx, const void* w,
                         int64_t ldw, const void* out);
// x (M, K) rows ldx apart, w (N, K) rows ldw apart, out (M, N) contiguous.
void gemv_half(int dt, const void* x, int64_t ldx, const void* w, int64_t ldw, void* out, int64_t M, int64_t N,
               int64_t K, cudaStream_t st);

}  // namespace tessera::cuda
