// Launchers of the CUDA creation kernels (random.cu): Threefry random bits laid out exactly as the
// CPU backend's RandomBits, and arange.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace tessera::cuda {

// key: (2,) uint32 on the device. Fills nbytes of out with the 32-bit words of the CPU layout (the last word cut to what fits).
void random_bits(const uint32_t* key, void* out, size_t nbytes, cudaStream_t st);
// out[i] = T(acc(start + i * step)) for real non-bool dtypes.
bool arange_supported(int dt);
void arange(int dt, double start, double step, void* out, size_t n, cudaStream_t st);

}  // namespace tessera::cuda
