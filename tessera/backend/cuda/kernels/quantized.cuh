// Device helpers of the quantized kernels: 32-value chunk loads and decoders for MLX affine words
// and GGUF blocks (every decoder yields 32 consecutive values of a row), x loads, type tags.
#pragma once

#include <cstdint>
#include <type_traits>

#include "tessera/backend/cuda/kernels/common.cuh"
#include "tessera/backend/cuda/kernels_quantized.h"

namespace tessera::cuda::q {

// ggml type ids.
enum GG : int { gg_q4_0 = 2, gg_q4_1 = 3, gg_q8_0 = 8, gg_q4_k = 12, gg_q5_k = 13, gg_q6_k = 14 };

template <int type>
struct GGInfo;
template <> struct GGInfo<gg_q4_0> { static constexpr int block = 32, bytes = 18; };
template <> struct GGInfo<gg_q4_1> { static constexpr int block = 32, bytes = 20; };
template <> struct GGInfo<gg_q8_0> { static constexpr int block = 32, bytes = 34; };
template <> struct GGInfo<gg_q4_k> { static constexpr int block = 256, bytes = 144; };
template <> struct GGInfo<gg_q5_k> { static constexpr int block = 256, bytes = 176; };
template <> struct GGInfo<gg_q6_k> { static constexpr int block = 256, bytes = 210; };

// Exact float of a small unsigned integer (< 2^23) without a conversion instruction.
__device__ __forceinline__ float u2f(uint32_t v) { return __int_as_float(0x4B000000u | v) - 8388608.0f; }
// Exact float of v - off for a small unsigned v (one OR and one add, no conversion instruction).
template <int off>
__device__ __forceinline__ float u2f_minus(uint32_t v) { return __int_as_float(0x4B000000u | v) - (8388608.0f + off); }

// ---- affine (MLX) chunks: 32 values of `bits` bits = `bits` uint32 words, LSB first ----

// The `bits` words of a chunk (streaming loads). p is 16-byte aligned for bits 4/8 and 8-byte
// aligned for bits 2 when the buffer is 16-byte aligned (rows hold a multiple of 32 values).
template <int bits>
__device__ __forceinline__ void load_chunk(const uint32_t* p, uint32_t (&w)[bits]) {
  if constexpr (bits % 4 == 0) {
#pragma unroll
    for (int i = 0; i < bits / 4; ++i) {
      uint4 v = __ldcs(reinterpret_cast<const uint4*>(p) + i);
      w[4 * i] = v.x;
      w[4 * i + 1] = v.y;
      w[4 * i + 2] = v.z;
      w[4 * i + 3] = v.w;
    }
  } else if constexpr (bits == 2) {
    uint2 v = __ldcs(reinterpret_cast<const uint2*>(p));
    w[0] = v.x;
    w[1] = v.y;
  } else {
#pragma unroll
    for (int i = 0; i < bits; ++i) w[i] = __ldcs(p + i);
  }
}

// Value j of a chunk (j a compile-time constant after unrolling).
template <int bits>
__device__ __forceinline__ uint32_t extract(const uint32_t (&w)[bits], int j) {
  constexpr uint32_t mask = (1u << bits) - 1;
  const int pos = j * bits, wi = pos >> 5, sh = pos & 31;
  uint32_t v = w[wi] >> sh;
  if (sh + bits > 32) v |= w[wi + 1] << (32 - sh);
  return v & mask;
}

// For bits 4 and 8: value j of a chunk times 2^(bits * (j % P)), P = 16 / bits, read in place from
// its 16-bit half word (one AND-OR per value, no shift): the float stays exact below 2^23.
template <int bits>
__device__ __forceinline__ float extract_scaled(const uint32_t (&w)[bits], int j) {
  static_assert(bits == 4 || bits == 8, "extract_scaled takes 4 or 8 bits");
  constexpr int V = 32 / bits, P = 16 / bits;
  const int wi = j / V, t = j % V, p = t % P;
  const uint32_t h = t >= P ? (w[wi] >> 16) : w[wi];
  return u2f(h & (((1u << bits) - 1) << (bits * p)));
}

// Row pointers of x's MR-row tile starting at row m0 (x: (M, K) row-major; rows past M repeat row
// M - 1, whose results the caller does not store).
template <typename T, int MR>
__device__ __forceinline__ void tile_rows(const T* x, int m0, int M, int K, const T* (&xr)[MR]) {
#pragma unroll
  for (int m = 0; m < MR; ++m) xr[m] = x + static_cast<int64_t>(min(m0 + m, M - 1)) * K;
}

// A dot product kept as P partial sums by field position (extract_scaled / field_scaled values carry a
// factor 2^(bits * p)): their sum with each factor divided out.
template <int bits, int P>
__device__ __forceinline__ float fold_positions(const float (&dot)[P]) {
  float d = dot[0];
#pragma unroll
  for (int p = 1; p < P; ++p) d = fmaf(dot[p], 1.0f / static_cast<float>(1u << (bits * p)), d);
  return d;
}

// (a & b) | c in one LOP3 (the compiler may otherwise emit an AND and an OR).
__device__ __forceinline__ uint32_t and_or(uint32_t a, uint32_t b, uint32_t c) {
  uint32_t d;
  asm("lop3.b32 %0, %1, %2, %3, 0xEA;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
  return d;
}

// For bits 4 and 8: value t (0 .. 32 / bits - 1) of word `w` (lo = w, hi = w >> 16 computed once per
// word) times 2^(bits * (t % P)), P = 16 / bits: one LOP3 puts the field in place into the mantissa
// of 2^23 and one FADD removes 2^23 (exact; no conversion instruction).
template <int bits>
__device__ __forceinline__ float field_scaled(uint32_t lo, uint32_t hi, int t) {
  static_assert(bits == 4 || bits == 8, "field_scaled takes 4 or 8 bits");
  constexpr int P = 16 / bits;
  const int p = t % P;
  return __uint_as_float(and_or(t >= P ? hi : lo, ((1u << bits) - 1) << (bits * p), 0x4B000000u)) - 8388608.0f;
}

// As field_scaled<8> for int8 bytes: (byte ^ 0x80) = q + 128, times 2^(8 (t % 2)); the flip is part
// of the same LOP3 ((w & mask) ^ (2^23 bits | sign bit of the field)).
__device__ __forceinline__ float field_scaled_flip8(uint32_t lo, uint32_t hi, int t) {
  const int p = t % 2;
  uint32_t d;
  asm("lop3.b32 %0, %1, %2, %3, 0x6A;" : "=r"(d) : "r"(t >= 2 ? hi : lo), "r"(0xFFu << (8 * p)), "r"(0x4B000000u | (0x80u << (8 * p))));
  return __uint_as_float(d) - 8388608.0f;
}

// ---- x: 8 consecutive values as float (p 16-byte aligned) ----
__device__ __forceinline__ void load_x8(const float* p, float (&v)[8]) {
  float4 a = __ldg(reinterpret_cast<const float4*>(p)), b = __ldg(reinterpret_cast<const float4*>(p) + 1);
  v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
}
// f16 / bf16: one 16-byte load of four pairs (P = __half2 / __nv_bfloat162).
template <typename P, typename T>
__device__ __forceinline__ void load_pairs8(const T* p, float (&v)[8]) {
  uint4 u = __ldg(reinterpret_cast<const uint4*>(p));
  const P* h = reinterpret_cast<const P*>(&u);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    v[2 * i] = to_f(h[i].x);
    v[2 * i + 1] = to_f(h[i].y);
  }
}
__device__ __forceinline__ void load_x8(const __half* p, float (&v)[8]) { load_pairs8<__half2>(p, v); }
__device__ __forceinline__ void load_x8(const __nv_bfloat16* p, float (&v)[8]) { load_pairs8<__nv_bfloat162>(p, v); }

// ---- GGUF: raw little-endian loads at the alignment each field has ----
__device__ __forceinline__ float f16_bits(uint32_t h) { return __half2float(__ushort_as_half(static_cast<unsigned short>(h))); }
__device__ __forceinline__ uint32_t ld_u16(const uint8_t* p) { return __ldcs(reinterpret_cast<const unsigned short*>(p)); }
// 4 bytes at a 2-byte aligned address.
__device__ __forceinline__ uint32_t ld_u32_a2(const uint8_t* p) { return ld_u16(p) | (ld_u16(p + 2) << 16); }
__device__ __forceinline__ uint32_t ld_u32(const uint8_t* p) { return __ldcs(reinterpret_cast<const unsigned int*>(p)); }
// n words (n % 4 == 0) at a 16-byte aligned address.
template <int n>
__device__ __forceinline__ void ld_words16(const uint8_t* p, uint32_t* w) {
#pragma unroll
  for (int i = 0; i < n / 4; ++i) {
    uint4 v = __ldcs(reinterpret_cast<const uint4*>(p) + i);
    w[4 * i] = v.x, w[4 * i + 1] = v.y, w[4 * i + 2] = v.z, w[4 * i + 3] = v.w;
  }
}
// The loads of the GGUF decoders: streaming global loads (kShared false) or plain loads of a copy
// in shared memory (same offsets and alignments as the global blocks).
template <bool kShared>
struct GGLoad {
  static __device__ __forceinline__ uint32_t u16(const uint8_t* p) {
    if constexpr (kShared) {
      return *reinterpret_cast<const unsigned short*>(p);
    } else {
      return ld_u16(p);
    }
  }
  // 4 bytes at a 2-byte aligned address.
  static __device__ __forceinline__ uint32_t u32_a2(const uint8_t* p) { return u16(p) | (u16(p + 2) << 16); }
  // n words (n % 4 == 0) at a 16-byte aligned address.
  template <int n>
  static __device__ __forceinline__ void words16(const uint8_t* p, uint32_t* w) {
    if constexpr (kShared) {
#pragma unroll
      for (int i = 0; i < n / 4; ++i) {
        uint4 v = reinterpret_cast<const uint4*>(p)[i];
        w[4 * i] = v.x, w[4 * i + 1] = v.y, w[4 * i + 2] = v.z, w[4 * i + 3] = v.w;
      }
    } else {
      ld_words16<n>(p, w);
    }
  }
};
// Byte j of a little-endian word array (j compile-time after unrolling).
__device__ __forceinline__ uint32_t byte_at(const uint32_t* w, int j) { return (w[j >> 2] >> (8 * (j & 3))) & 255u; }

// The 6-bit (scale, min) pair j of a Q4_K/Q5_K super-block from its 12 bytes (3 words).
__device__ __forceinline__ void scale_min_k(int j, const uint32_t* s, float& sc, float& mn) {
  uint32_t a, b;
  if (j < 4) {
    a = byte_at(s, j) & 63;
    b = byte_at(s, j + 4) & 63;
  } else {
    a = (byte_at(s, j + 4) & 15) | ((byte_at(s, j - 4) >> 6) << 4);
    b = (byte_at(s, j + 4) >> 4) | ((byte_at(s, j) >> 6) << 4);
  }
  sc = static_cast<float>(a);
  mn = static_cast<float>(b);
}

// Values [32c, 32c + 32) of a GGUF row in global memory (kShared false) or in a shared-memory copy
// (row 16-byte aligned when the buffer and the row size allow;
// each field is read at the alignment the block layout guarantees from a 2-byte aligned row).
template <int type, bool kShared = false>
__device__ __forceinline__ void gguf_decode32(const uint8_t* row, int64_t c, float (&v)[32]) {
  using Ld = GGLoad<kShared>;
  if constexpr (type == gg_q4_0) {
    const uint8_t* b = row + c * 18;
    float d = f16_bits(Ld::u16(b));
    uint32_t w[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) w[i] = Ld::u32_a2(b + 2 + 4 * i);
#pragma unroll
    for (int j = 0; j < 16; ++j) {
      uint32_t q = byte_at(w, j);
      v[j] = d * u2f_minus<8>(q & 15);
      v[j + 16] = d * u2f_minus<8>(q >> 4);
    }
  } else if constexpr (type == gg_q4_1) {
    const uint8_t* b = row + c * 20;
    uint32_t h = Ld::u32_a2(b);
    float d = f16_bits(h & 0xFFFF), m = f16_bits(h >> 16);
    uint32_t w[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) w[i] = Ld::u32_a2(b + 4 + 4 * i);
#pragma unroll
    for (int j = 0; j < 16; ++j) {
      uint32_t q = byte_at(w, j);
      v[j] = d * u2f(q & 15) + m;
      v[j + 16] = d * u2f(q >> 4) + m;
    }
  } else if constexpr (type == gg_q8_0) {
    const uint8_t* b = row + c * 34;
    float d = f16_bits(Ld::u16(b));
    uint32_t w[8];
#pragma unroll
    for (int i = 0; i < 8; ++i) w[i] = Ld::u32_a2(b + 2 + 4 * i);
#pragma unroll
    for (int j = 0; j < 32; ++j) v[j] = d * u2f_minus<128>(byte_at(w, j) ^ 0x80u);  // int8 as q + 128
  } else if constexpr (type == gg_q4_k || type == gg_q5_k) {
    constexpr bool five = type == gg_q5_k;
    constexpr int bytes = five ? 176 : 144;
    const int i = static_cast<int>(c & 7);
    const uint8_t* b = row + (c >> 3) * bytes;  // 16-byte aligned in a 16-byte aligned buffer
    uint32_t h = Ld::u32_a2(b);
    float d = f16_bits(h & 0xFFFF), dmin = f16_bits(h >> 16);
    uint32_t s[3] = {Ld::u32_a2(b + 4), Ld::u32_a2(b + 8), Ld::u32_a2(b + 12)};
    float sc, mn;
    scale_min_k(i, s, sc, mn);
    float d1 = d * sc, m1 = dmin * mn;
    uint32_t q[8];
    Ld::template words16<8>(b + (five ? 48 : 16) + 32 * (i >> 1), q);
    const int shift = 4 * (i & 1);
    if constexpr (five) {
      uint32_t qh[8];
      Ld::template words16<8>(b + 16, qh);
#pragma unroll
      for (int l = 0; l < 32; ++l) {
        uint32_t x = ((byte_at(q, l) >> shift) & 15) | (((byte_at(qh, l) >> i) & 1) << 4);
        v[l] = d1 * u2f(x) - m1;
      }
    } else {
#pragma unroll
      for (int l = 0; l < 32; ++l) v[l] = d1 * u2f((byte_at(q, l) >> shift) & 15) - m1;
    }
  } else {  // Q6_K: 210-byte blocks, 2-byte aligned
    static_assert(type == gg_q6_k, "unknown GGUF type");
    const int i = static_cast<int>(c & 7), hh = i >> 2, r = i & 3;
    const uint8_t* b = row + (c >> 3) * 210;
    uint32_t L[8], H[8];
#pragma unroll
    for (int k = 0; k < 8; ++k) {
      L[k] = Ld::u32_a2(b + 64 * hh + 32 * (r & 1) + 4 * k);
      H[k] = Ld::u32_a2(b + 128 + 32 * hh + 4 * k);
    }
    uint32_t sp = Ld::u16(b + 192 + 8 * hh + 2 * r);  // scales 8hh + 2r (l < 16) and 8hh + 2r + 1
    float d = f16_bits(Ld::u16(b + 208));
    float d0 = d * static_cast<float>(static_cast<int8_t>(sp & 255));
    float d1 = d * static_cast<float>(static_cast<int8_t>(sp >> 8));
    const int ls = 4 * (r >> 1), hs = 2 * r;
#pragma unroll
    for (int l = 0; l < 32; ++l) {
      uint32_t x = ((byte_at(L, l) >> ls) & 15) | (((byte_at(H, l) >> hs) & 3) << 4);
      v[l] = (l < 16 ? d0 : d1) * u2f_minus<32>(x);
    }
  }
}

}  // namespace tessera::cuda::q

namespace tessera::cuda::q {

// Launchers shared between the quantized .cu files (arguments as affine_qmm / gguf_qmm).
void affine_gemv_t(int dt, const AffineWeight& w, const void* x, void* out, int M, int N, int K, cudaStream_t st);
// acc (M, N) f32 (zeroed here) += x @ W for W (K, N).
void affine_gemv_n(int dt, const AffineWeight& w, const void* x, float* acc, int M, int N, int K, cudaStream_t st);
void affine_gemm(int dt, const AffineWeight& w, const void* x, void* out, int64_t M, int64_t N, int64_t K,
                 cudaStream_t st);
void gguf_gemv(int type, const float* x, const uint8_t* w, float* out, int M, int N, int K, cudaStream_t st);
void gguf_gemm(int type, const float* x, const uint8_t* w, float* out, int64_t M, int64_t N, int64_t K,
               cudaStream_t st);
// The conversion-free GEMV of W (N, K) (quantized_gemv_lop3.cu): bits 4/8, power-of-two group size;
// false (nothing launched) otherwise.
bool launch_lop3(int dt, const AffineWeight& w, const void* x, void* out, int M, int N, int K, cudaStream_t st);
// The packed-f16 GEMV of W (N, K) (quantized_gemv_h2.cu): M = 1, f16/bf16 x, bits 4/8, power-of-two
// group size, K <= 23130; false (nothing launched) otherwise.
bool launch_h2(int dt, const AffineWeight& w, const void* x, void* out, int M, int N, int K, cudaStream_t st);

// Calls f(std::integral_constant<int, MR>{}) with MR the smallest of 1, 2, 4, 8 holding M rows.
template <typename F>
void dispatch_rows(int M, F&& f) {
  if (M <= 1) {
    f(std::integral_constant<int, 1>{});
  } else if (M <= 2) {
    f(std::integral_constant<int, 2>{});
  } else if (M <= 4) {
    f(std::integral_constant<int, 4>{});
  } else {
    f(std::integral_constant<int, 8>{});
  }
}


// Calls f(std::integral_constant<int, bits>{}) for a supported width; false otherwise.
template <typename F>
bool dispatch_bits(int bits, F&& f) {
  switch (bits) {
    case 2: f(std::integral_constant<int, 2>{}); return true;
    case 3: f(std::integral_constant<int, 3>{}); return true;
    case 4: f(std::integral_constant<int, 4>{}); return true;
    case 5: f(std::integral_constant<int, 5>{}); return true;
    case 6: f(std::integral_constant<int, 6>{}); return true;
    case 8: f(std::integral_constant<int, 8>{}); return true;
    default: return false;
  }
}

// Calls f(std::integral_constant<int, type>{}) for a supported GGUF type id; false otherwise.
template <typename F>
bool dispatch_gguf(int type, F&& f) {
  switch (type) {
    case gg_q4_0: f(std::integral_constant<int, gg_q4_0>{}); return true;
    case gg_q4_1: f(std::integral_constant<int, gg_q4_1>{}); return true;
    case gg_q8_0: f(std::integral_constant<int, gg_q8_0>{}); return true;
    case gg_q4_k: f(std::integral_constant<int, gg_q4_k>{}); return true;
    case gg_q5_k: f(std::integral_constant<int, gg_q5_k>{}); return true;
    case gg_q6_k: f(std::integral_constant<int, gg_q6_k>{}); return true;
    default: return false;
  }
}

}  // namespace tessera::cuda::q
