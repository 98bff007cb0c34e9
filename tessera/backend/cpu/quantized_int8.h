// Int8-activation dot products of quantized weight rows (GGUF Q4_0/Q8_0/Q4_K/Q6_K, MLX affine 4/8-bit).
#pragma once

#include <cstdint>
#include <vector>

#include "tessera/backend/cpu/cpu_isa.h"
#include "tessera/primitives/quantized.h"

namespace tessera::cpu::quant {

// Activations (M, K) quantized per block of 32 to int8 with one float scale (q = round(x / d),
// d = max|x| / 127). Row m of each field starts at m * K (q) or m * (K / 32) (d, s, isum).
struct Q8Act {
  std::vector<int8_t> q;      // (M, K); with `pairs`, each block stores even values then odd ones
  std::vector<float> d;       // (M, K/32) scales
  std::vector<float> s;       // (M, K/32) float sums of the original x per block
  std::vector<int32_t> isum;  // (M, K/32) sums of q per block
  int64_t K = 0;
};

// Rows m0.. of a Q8Act as raw pointers (what the per-ISA kernels take).
struct Q8View {
  const int8_t* q;
  const float* d;
  const float* s;
  const int32_t* isum;
  int64_t K;
};
inline Q8View view_rows(const Q8Act& a, int64_t m0) {
  int64_t nb = a.K / 32;
  return {a.q.data() + m0 * a.K, a.d.data() + m0 * nb, a.s.data() + m0 * nb, a.isum.data() + m0 * nb, a.K};
}

// x (M, K) float, K a multiple of 32. `pairs`: store each block of 32 as values 0,2,..,30, 1,3,..,31
// (the order of MLX's 4-bit nibbles, low nibble first).
Q8Act quantize_act(const float* x, int64_t M, int64_t K, bool pairs);

// True when the int8 row kernels cover this GGUF type / these affine bits on `isa`.
bool int8_gguf_supported(CpuIsa isa, GGUFType t);
bool int8_affine_supported(CpuIsa isa, int bits, int group_size);
// Whether the affine GEMV should round x to int8: only on request (TESSERA_CPU_AFFINE_INT8=1, read on
// every call), as MLX keeps float activations and other code compares against the float result.
bool affine_int8_requested();

// res[m] = row . x[m] for m < mr (mr 1..4) and rows [n0, n1) of the GGUF block matrix w (N, K):
// out[m * ldo + n]. `isa` must be avx2 or avx512 (and supported by the CPU).
void int8_gguf_rows(CpuIsa isa, GGUFType t, const uint8_t* w, const Q8Act& x, int64_t m0, int mr, int64_t n0,
                    int64_t n1, float* out, int64_t ldo);

// The same for MLX affine weights w (N, K*bits/8) with float scales / biases of one row at a time
// supplied by `row_sb(n, sc, bi)` (G = K / gs floats each). x from quantize_act(pairs = bits == 4).
using RowScales = void (*)(const void* ctx, int64_t n, float* sc, float* bi);
void int8_affine_rows(CpuIsa isa, int bits, int gs, const uint8_t* w, RowScales row_sb, const void* ctx,
                      const Q8Act& x, int64_t m0, int mr, int64_t n0, int64_t n1, float* out, int64_t ldo);

}  // namespace tessera::cpu::quant
