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

// categorical: out[o] (o over (outer, inner)) = argmax_c logits[o, c] + gumbel(bits[o, c]) along the
// middle axis of the full (outer, n, inner) shape; bits contiguous uint32, logits float32 by
// `lstrides` over `full` (broadcast strides allowed). First index wins ties, as on the CPU.
struct CategoricalArgs {
  const uint32_t* bits;
  const float* logits;
  uint32_t* out;
  int ndim, axis;
  int64_t full[8], lstrides[8];
  int64_t n, inner, nout;
};
void categorical(const CategoricalArgs& a, cudaStream_t st);

}  // namespace tessera::cuda
