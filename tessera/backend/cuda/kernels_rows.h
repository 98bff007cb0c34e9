// Launchers of the CUDA row kernels (rows.cu): variance/std and logsumexp over the last axis of a
// contiguous (rows, n) array, and the triangular mask (tril/triu) of the last two axes.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

namespace tessera::cuda {

// f16/bf16/f32/f64; out (rows,). Variance accumulates in double (two passes, as the CPU).
bool rows_supported(int dt);
void variance(int dt, const void* in, void* out, size_t rows, size_t n, int ddof, bool take_sqrt, cudaStream_t st);
void logsumexp(int dt, const void* in, void* out, size_t rows, size_t n, cudaStream_t st);
// Zeroes in place, in a contiguous (batch, m, n) buffer of elem_size-byte elements, the entries
// above diagonal k (lower) or below it (upper).
void tri_mask(void* data, int elem_size, size_t batch, int64_t m, int64_t n, int k, bool lower, cudaStream_t st);

}  // namespace tessera::cuda
