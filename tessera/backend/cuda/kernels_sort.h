// Launchers of the CUDA sort kernels (sort.cu): stable per-line sort / argsort of a contiguous
// (outer, n, inner) array along its middle axis, NaNs last (the CPU backend's order).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace tessera::cuda {

// Real dtypes (bool, integers, f16, bf16, f32, f64) of any row length with outer*n*inner < 2^31.
bool sort_supported(int dt, size_t outer, size_t n, size_t inner);
// out_vals (same dtype, may be null) and/or out_idx (uint32, may be null), both (outer, n, inner).
void sort_lines(int dt, const void* in, void* out_vals, uint32_t* out_idx, size_t outer, size_t n, size_t inner,
                cudaStream_t st);

}  // namespace tessera::cuda
