// Launchers of the CUDA creation kernels (random.cu): Threefry random bits laid out exactly as the
// CPU backend's RandomBits, and arange.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "tessera/backend/cuda/kernels.h"

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

// random_map.cu: out[i] = transform(bits[i], params at i) with exactly the CPU backend's float
// arithmetic (explicit fma / round-to-nearest operations; logs in double rounded to float).
// kind: RandomMap::Kind order. Params p0/p1 are float64 read by `s`'s strides (operands 0 and 1)
// over the output shape; bits contiguous uint32.
enum RandomMapKind : int { rm_uniform, rm_normal, rm_truncated_normal, rm_gumbel, rm_bernoulli, rm_randint };
struct RandomMapArgs {
  int kind;
  int out_dt;
  const uint32_t* bits;
  const double* p0;
  const double* p1;
  float loc, scale;
};
bool random_map_supported(int kind, int out_dt);
void random_map(const RandomMapArgs& a, void* out, const Strided& s, size_t n, cudaStream_t st);

// permutation: out (outer, n, inner_bytes) = x rows gathered by `order` (n,) uint32 along the middle axis.
void permute_rows(const void* x, const uint32_t* order, void* out, size_t outer, size_t n, size_t inner_bytes,
                  cudaStream_t st);

}  // namespace tessera::cuda
