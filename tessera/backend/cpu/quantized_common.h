// Shared pieces of the CPU quantized kernels: 16-wide vector types, bit unpacking, tiled dequant+GEMM.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>

#include "tessera/array.h"

#pragma GCC diagnostic ignored "-Wpsabi"

namespace tessera::cpu::quant {

// GCC vector types: one AVX-512 register, or two AVX2 registers (compile-time, -march=native).
typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));
typedef uint32_t v16u __attribute__((vector_size(64)));
typedef uint8_t v16b __attribute__((vector_size(16)));

inline v16f load16(const float* p) {
  v16f v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline void store16(float* p, v16f v) { std::memcpy(p, &v, sizeof(v)); }
inline float hsum(v16f v) {
  float s = 0;
  for (int i = 0; i < 16; ++i) s += v[i];
  return s;
}

// 16 consecutive values of an LSB-first bit stream (value j at bits [j*bits, (j+1)*bits)), read from
// the 2*bits bytes at p. This is MLX's packing for every supported width.
template <int bits>
inline v16f unpack16(const uint8_t* p) {
  constexpr uint32_t mask = (1u << bits) - 1;
  if constexpr (bits == 8) {
    v16b b;
    std::memcpy(&b, p, 16);
    return __builtin_convertvector(__builtin_convertvector(b, v16i), v16f);
  } else if constexpr (bits == 2) {
    uint32_t a;
    std::memcpy(&a, p, 4);
    v16u sh = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
    v16u v = (v16u{} + a) >> sh;
    return __builtin_convertvector(reinterpret_cast<v16i>(v & mask), v16f);
  } else if constexpr (bits == 4) {
    uint64_t u;
    std::memcpy(&u, p, 8);
    uint32_t a = static_cast<uint32_t>(u), b = static_cast<uint32_t>(u >> 32);
    v16u v = {a, a, a, a, a, a, a, a, b, b, b, b, b, b, b, b};
    v16u sh = {0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28};
    return __builtin_convertvector(reinterpret_cast<v16i>((v >> sh) & mask), v16f);
  } else {
    // 3, 5, 6 bits: two chunks of 8 values in `bits` bytes each, split into halves of 4 values.
    uint64_t u0 = 0, u1 = 0;
    std::memcpy(&u0, p, bits);
    std::memcpy(&u1, p + bits, bits);
    uint32_t a0 = static_cast<uint32_t>(u0), b0 = static_cast<uint32_t>(u0 >> (4 * bits));
    uint32_t a1 = static_cast<uint32_t>(u1), b1 = static_cast<uint32_t>(u1 >> (4 * bits));
    v16u v = {a0, a0, a0, a0, b0, b0, b0, b0, a1, a1, a1, a1, b1, b1, b1, b1};
    constexpr uint32_t B = bits;
    v16u sh = {0, B, 2 * B, 3 * B, 0, B, 2 * B, 3 * B, 0, B, 2 * B, 3 * B, 0, B, 2 * B, 3 * B};
    return __builtin_convertvector(reinterpret_cast<v16i>((v >> sh) & mask), v16f);
  }
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
