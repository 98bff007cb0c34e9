// Shared pieces of the CPU quantized kernels: 16-wide vector types, bit unpacking, tiled dequant+GEMM.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>

#include "tessera/array.h"

#pragma GCC diagnostic ignored "-Wpsabi"

namespace tessera::cpu::quant {

// GCC vector types of 8 floats: one AVX2 register (with AVX-512 the compiler uses its 256-bit
// forms). Arrays of these stay in registers, which 16-wide vectors split on AVX2 do not.
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
typedef uint32_t v8u __attribute__((vector_size(32)));

inline v8f load8(const float* p) {
  v8f v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline void store8(float* p, v8f v) { std::memcpy(p, &v, sizeof(v)); }
inline float hsum(v8f v) { return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7])); }

// 8 consecutive values of an LSB-first bit stream (value j at bits [j*bits, (j+1)*bits)), read from
// the `bits` bytes at p: MLX's packing for every supported width. The 8*bits bits are split into two
// halves of 4 values that each fit a 32-bit lane, then shifted per lane and masked.
template <int bits>
inline v8f unpack8(const uint8_t* p) {
  constexpr uint32_t mask = (1u << bits) - 1;
  constexpr uint32_t B = bits;
  uint64_t u = 0;
  std::memcpy(&u, p, bits);
  uint32_t a = static_cast<uint32_t>(u), b = static_cast<uint32_t>(u >> (4 * bits));
  v8u v = {a, a, a, a, b, b, b, b};
  constexpr v8u sh = {0, B, 2 * B, 3 * B, 0, B, 2 * B, 3 * B};
  return __builtin_convertvector(reinterpret_cast<v8i>((v >> sh) & mask), v8f);
}

// n values of a float16/bfloat16/float32 buffer as float.
void to_float(const void* src, Dtype dt, float* dst, size_t n);

// Produces rows [r0, r1) of a dequantized weight, row-major with `cols` floats per row, into dst.
using RowDequant = std::function<void(int64_t r0, int64_t r1, float* dst)>;

// out (M, N) = x (M, K) @ W^T with W (N, K) produced tile by tile by `rows` (never whole).
void tiled_gemm_nt(const float* x, int64_t M, int64_t K, int64_t N, float* out, const RowDequant& rows);
// out (M, N) = x (M, K) @ W with W (K, N) produced tile by tile by `rows`.
void tiled_gemm_nn(const float* x, int64_t M, int64_t K, int64_t N, float* out, const RowDequant& rows);

// A float32 row-contiguous version of `in` (itself when it already is one).
array float_contiguous(const array& in);
// A row-contiguous version of `in` in its own dtype.
array row_contiguous(const array& in);

}  // namespace tessera::cpu::quant

namespace tessera::cpu::quant {
// Row of K values from packed bits (LSB first) and float scales/biases per group of gs.
void dequant_row(int bits, const uint8_t* w, const float* sc, const float* bi, int64_t K, int gs, float* dst);
}  // namespace tessera::cpu::quant

namespace tessera::cpu::quant {
// The 6-bit (scale, min) pair j of a GGUF Q4_K/Q5_K super-block from its 12 packed bytes.
inline void scale_min_k(int j, const uint8_t* q, int& sc, int& mn) {
  if (j < 4) {
    sc = q[j] & 63;
    mn = q[j + 4] & 63;
  } else {
    sc = (q[j + 4] & 15) | ((q[j - 4] >> 6) << 4);
    mn = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}
}  // namespace tessera::cpu::quant
