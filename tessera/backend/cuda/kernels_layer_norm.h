// Launcher of the CUDA layer_norm kernel (layer_norm.cu).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

namespace tessera::cuda {

// x, out contiguous (rows, d) of dtype dt (f32/f16/bf16); w, b float32 (d,) or null.
void layer_norm(int dt, const void* x, const float* w, const float* b, void* out, size_t rows, int d, float eps,
                cudaStream_t st);

}  // namespace tessera::cuda
