// Quantized decode GEMV kernels (x rows M <= 8, one pass over the weights for all rows): affine
// W (N, K) by four kernels (row streaming "old", x staged in shared memory "fast", tensor-core
// "tc", conversion-free "lop3" in quantized_gemv_lop3.cu, packed-f16 "h2" in quantized_gemv_h2.cu;
// affine_gemv_t picks one, TESSERA_QGEMV
// forces one) and GGUF rows (16-byte copies through
// shared memory) dequantized in registers; affine W (K, N) by column chunks with split-K.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "tessera/backend/cuda/kernels/mma.cuh"
#include "tessera/backend/cuda/kernels/qgemv_index.h"
#include "tessera/backend/cuda/kernels/quantized.cuh"

namespace tessera::cuda::q {

namespace {

using qidx::kRows;   // rows of W per warp (each x load serves both)
using qidx::kWarps;  // warps per block of the row-streaming kernels

// Row pointers of the MR-row tile of x (rows past M repeat row M - 1) and zeroed accumulators.
template <typename T, int MR>
__device__ __forceinline__ void start_rows(const T* x, int M, int K, const T* (&xr)[MR], float (&acc)[kRows][MR]) {
  tile_rows(x, 0, M, K, xr);
#pragma unroll
  for (int m = 0; m < MR; ++m) {
#pragma unroll
    for (int r = 0; r < kRows; ++r) acc[r][m] = 0.0f;
  }
}

// Sums each lane's acc[r][m] over the warp; lane 0 writes out[m, n0 + r] for rows inside (M, N).
template <typename T, int MR>
__device__ __forceinline__ void warp_sum_store(float (&acc)[kRows][MR], T* out, int M, int N, int n0) {
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
#pragma unroll
    for (int m = 0; m < MR; ++m) {
      float v = acc[r][m];
#pragma unroll
      for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
      if ((threadIdx.x & 31) == 0 && n0 + r < N && m < M) out[static_cast<int64_t>(m) * N + n0 + r] = from_f<T>(v);
    }
  }
}

// out[m, n] = sum_g scale[n, g] * (q[n, group g] . x[m, group g]) + bias[n, g] * sum(x[m, group g]).
// Each warp owns kRows rows of W; lane l takes chunks (32 values, one group's part) l, l + 32, ...;
// U chunks per row are loaded before any is used. Rows m >= M of the MR-row tile read row M - 1.
template <typename T, int bits, int MR, int U>
__global__ void __launch_bounds__(kWarps * 32) qmv_t_kernel(const T* __restrict__ x, const uint32_t* __restrict__ wq,
                                                            const T* __restrict__ scales, const T* __restrict__ biases,
                                                            T* __restrict__ out, int M, int N, int K, int gs) {
  const int lane = threadIdx.x & 31;
  const int n0 = qidx::t_row0(blockIdx.x, threadIdx.x >> 5);
  if (n0 >= N) return;  // uniform per warp; no block-wide barrier follows
  const int64_t row_words = static_cast<int64_t>(K) / 32 * bits;
  const int G = K / gs, nchunks = K / 32;
  int rows[kRows];
  const uint32_t* wr[kRows];
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    rows[r] = min(n0 + r, N - 1);
    wr[r] = wq + rows[r] * row_words;
  }
  const T* xr[MR];
  float acc[kRows][MR];
  start_rows(x, M, K, xr, acc);

  for (int it = 0; qidx::t_chunk(it, U, 0, lane) < nchunks; ++it) {
    uint32_t w[U][kRows][bits];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int c = qidx::t_chunk(it, U, u, lane);
      if (c < nchunks) {
#pragma unroll
        for (int r = 0; r < kRows; ++r) load_chunk<bits>(wr[r] + static_cast<int64_t>(c) * bits, w[u][r]);
      }
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int c = qidx::t_chunk(it, U, u, lane);
      if (c >= nchunks) break;
      // Bits 4/8: dot[.][.][p] sums the values at position p of each half word, scaled by 2^(bits p).
      constexpr bool fast = bits == 4 || bits == 8;
      constexpr int P = fast ? 16 / bits : 1;
      float dot[kRows][MR][P], xs[MR];
#pragma unroll
      for (int m = 0; m < MR; ++m) {
        xs[m] = 0.0f;
#pragma unroll
        for (int r = 0; r < kRows; ++r)
#pragma unroll
          for (int p = 0; p < P; ++p) dot[r][m][p] = 0.0f;
      }
#pragma unroll
      for (int j8 = 0; j8 < 4; ++j8) {
        float qf[kRows][8];
#pragma unroll
        for (int r = 0; r < kRows; ++r) {
#pragma unroll
          for (int j = 0; j < 8; ++j) {
            if constexpr (fast) {
              qf[r][j] = extract_scaled<bits>(w[u][r], j8 * 8 + j);
            } else {
              qf[r][j] = u2f(extract<bits>(w[u][r], j8 * 8 + j));
            }
          }
        }
#pragma unroll
        for (int m = 0; m < MR; ++m) {
          float xv[8];
          load_x8(xr[m] + c * 32 + j8 * 8, xv);
#pragma unroll
          for (int j = 0; j < 8; ++j) {
            xs[m] += xv[j];
#pragma unroll
            for (int r = 0; r < kRows; ++r) dot[r][m][j % P] = fmaf(qf[r][j], xv[j], dot[r][m][j % P]);
          }
        }
      }
      const int g = c * 32 / gs;
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        float s = to_f(scales[static_cast<int64_t>(rows[r]) * G + g]);
        float b = to_f(biases[static_cast<int64_t>(rows[r]) * G + g]);
#pragma unroll
        for (int m = 0; m < MR; ++m) {
          const float d = fold_positions<bits>(dot[r][m]);
          acc[r][m] += s * d + b * xs[m];
        }
      }
    }
  }
  warp_sum_store(acc, out, M, N, n0);
}

// acc[m, n] += x[m, k] * W[k, n] over a slice of k (blockIdx.y): thread = one chunk of 32 columns.
template <typename T, int bits, int MR>
__global__ void __launch_bounds__(128) qmv_n_kernel(const T* __restrict__ x, const uint32_t* __restrict__ wq,
                                                    const T* __restrict__ scales, const T* __restrict__ biases,
                                                    float* __restrict__ acc, int M, int N, int K, int gs,
                                                    int k_per_slice) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= N / 32) return;
  const int k0 = blockIdx.y * k_per_slice, k1 = min(K, k0 + k_per_slice);
  const int64_t row_words = static_cast<int64_t>(N) / 32 * bits;
  const int Gn = N / gs, g = c * 32 / gs;
  float a[MR][32];
#pragma unroll
  for (int m = 0; m < MR; ++m)
#pragma unroll
    for (int j = 0; j < 32; ++j) a[m][j] = 0.0f;
  for (int k = k0; k < k1; ++k) {
    uint32_t w[bits];
    load_chunk<bits>(wq + k * row_words + static_cast<int64_t>(c) * bits, w);
    float s = to_f(scales[static_cast<int64_t>(k) * Gn + g]), b = to_f(biases[static_cast<int64_t>(k) * Gn + g]);
    float xv[MR];
#pragma unroll
    for (int m = 0; m < MR; ++m) xv[m] = to_f(x[static_cast<int64_t>(min(m, M - 1)) * K + k]);
#pragma unroll
    for (int j = 0; j < 32; ++j) {
      float v = fmaf(s, u2f(extract<bits>(w, j)), b);
#pragma unroll
      for (int m = 0; m < MR; ++m) a[m][j] = fmaf(v, xv[m], a[m][j]);
    }
  }
#pragma unroll
  for (int m = 0; m < MR; ++m) {
    if (m >= M) break;
#pragma unroll
    for (int j = 0; j < 32; ++j) atomicAdd(acc + static_cast<int64_t>(m) * N + c * 32 + j, a[m][j]);
  }
}

// GGUF: out[m, n] = sum over 32-value chunks of decoded W[n, chunk] . x[m, chunk]; as qmv_t_kernel.
template <int type, int MR>
__global__ void __launch_bounds__(kWarps * 32) gguf_mv_kernel(const float* __restrict__ x, const uint8_t* __restrict__ w,
                                                              float* __restrict__ out, int M, int N, int K) {
  const int lane = threadIdx.x & 31;
  const int n0 = (blockIdx.x * kWarps + (threadIdx.x >> 5)) * kRows;
  if (n0 >= N) return;
  const int64_t row_bytes = static_cast<int64_t>(K) / GGInfo<type>::block * GGInfo<type>::bytes;
  const int nchunks = K / 32;
  const uint8_t* wr[kRows];
#pragma unroll
  for (int r = 0; r < kRows; ++r) wr[r] = w + min(n0 + r, N - 1) * row_bytes;
  const float* xr[MR];
  float acc[kRows][MR];
  start_rows(x, M, K, xr, acc);
  for (int c = lane; c < nchunks; c += 32) {
    float v[kRows][32];
#pragma unroll
    for (int r = 0; r < kRows; ++r) gguf_decode32<type>(wr[r], c, v[r]);
#pragma unroll
    for (int m = 0; m < MR; ++m) {
#pragma unroll
      for (int j8 = 0; j8 < 4; ++j8) {
        float xv[8];
        load_x8(xr[m] + c * 32 + j8 * 8, xv);
#pragma unroll
        for (int j = 0; j < 8; ++j)
#pragma unroll
          for (int r = 0; r < kRows; ++r) acc[r][m] = fmaf(v[r][j8 * 8 + j], xv[j], acc[r][m]);
      }
    }
  }
  warp_sum_store(acc, out, M, N, n0);
}

// ---- Staged-x path of affine W (N, K), bits 4 and 8 ("fast") ----
// A block of 8 warps: kWR row groups x kWK K-interleaved warps; each warp owns R rows of W; lane l
// takes the 32-value chunks l, l + 32 * kWK, ... (one 16-byte (4-bit) or 32-byte (8-bit) load per
// row and chunk; U chunks per row in flight). x (MR rows, a K tile) is staged once per block in
// shared memory as float32 (chunk-swizzled: lanes read conflict-free float4s) with per-chunk sums
// (the bias term of a chunk is bias(group) * sum of x over that chunk); the weight loads of a
// tile's first batch are issued before the staging. The kWK partial sums of a row are added in a
// fixed order (deterministic, no atomics). Index math: qgemv_index.h (emulated on the host).
using qidx::FastShape;
using qidx::kFastThreads;
using qidx::kWK;
using qidx::kWR;

template <typename T, int bits, int MR>
__global__ void __launch_bounds__(kFastThreads) qmv_fast_kernel(const T* __restrict__ x,
                                                                const uint32_t* __restrict__ wq,
                                                                const T* __restrict__ scales,
                                                                const T* __restrict__ biases, T* __restrict__ out,
                                                                int M, int N, int K, int gs) {
  constexpr int R = FastShape<MR>::R, U = FastShape<MR>::U;
  constexpr int KT = FastShape<MR>::KT, CT = FastShape<MR>::CT;  // K tile (values, chunks)
  constexpr int P = 16 / bits;                                    // partial dots per value position in a half word
  __shared__ float4 xs[MR * CT * 8];                              // [m][chunk][8 float4, swizzled]
  __shared__ float xsum[MR * CT];                                 // [m][chunk of the tile]
  __shared__ float red[kWK][kWR * R * MR];

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int wk = warp % kWK, wr = warp / kWK;
  const int nb = qidx::fast_row0(blockIdx.x, wr, R);  // first row of this warp
  const int64_t row_words = static_cast<int64_t>(K) / 32 * bits;
  const int G = K / gs;
  const uint32_t* wrow[R];
  const T* srow[R];
  const T* brow[R];
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int64_t n = min(nb + r, N - 1);  // rows past N read row N - 1 and are not stored
    wrow[r] = wq + n * row_words;
    srow[r] = scales + n * G;
    brow[r] = biases + n * G;
  }
  float acc[R][MR];
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int m = 0; m < MR; ++m) acc[r][m] = 0.0f;

  uint32_t w[U][R][bits];
  float sc[U][R], bi[U][R];
  // Loads the chunks of batch steps i0 .. i0 + U - 1 of the tile at k0 (cn chunks).
  auto load_batch = [&](int k0, int cn, int i0) {
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int c = qidx::fast_chunk(i0 + u, wk, lane);
      if (c < cn) {
        const int kc = k0 / 32 + c, g = kc * 32 / gs;
#pragma unroll
        for (int r = 0; r < R; ++r) {
          load_chunk<bits>(wrow[r] + static_cast<int64_t>(kc) * bits, w[u][r]);
          sc[u][r] = to_f(srow[r][g]);
          bi[u][r] = to_f(brow[r][g]);
        }
      }
    }
  };

  for (int k0 = 0; k0 < K; k0 += KT) {
    const int kt = min(KT, K - k0), cn = kt / 32;
    load_batch(k0, cn, 0);
    __syncthreads();  // the previous tile's xs / xsum are no longer read
    {
      // Stage x: item e = 8 values of row m; the 4 items of a chunk are 4 aligned consecutive lanes
      // (per_m is a multiple of 4 and the loop base a multiple of 32), summed by 2 shuffles.
      const int per_m = kt / 8, items = MR * per_m;
      for (int base = 0; base < items; base += kFastThreads) {  // uniform trip count
        const int e = base + threadIdx.x;
        float v[8];
        const bool ok = e < items;
        const qidx::StageItem it = qidx::fast_stage_item(ok ? e : 0, per_m);
        if (ok && it.m < M) {
          load_x8(x + static_cast<int64_t>(it.m) * K + k0 + it.c * 32 + it.j8 * 8, v);
        } else {
#pragma unroll
          for (int j = 0; j < 8; ++j) v[j] = 0.0f;
        }
        if (ok) {
          xs[qidx::fast_xs_index(it.m, it.c, 2 * it.j8, CT)] = make_float4(v[0], v[1], v[2], v[3]);
          xs[qidx::fast_xs_index(it.m, it.c, 2 * it.j8 + 1, CT)] = make_float4(v[4], v[5], v[6], v[7]);
        }
        float t = ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
        t += __shfl_xor_sync(0xffffffffu, t, 1);
        t += __shfl_xor_sync(0xffffffffu, t, 2);
        if (ok && it.j8 == 0) xsum[qidx::fast_xsum_index(it.m, it.c, CT)] = t;
      }
    }
    __syncthreads();

    for (int i0 = 0;;) {
#pragma unroll
      for (int u = 0; u < U; ++u) {
        const int c = qidx::fast_chunk(i0 + u, wk, lane);
        if (c >= cn) continue;
        float dot[R][MR][P];
#pragma unroll
        for (int r = 0; r < R; ++r)
#pragma unroll
          for (int m = 0; m < MR; ++m)
#pragma unroll
            for (int p = 0; p < P; ++p) dot[r][m][p] = 0.0f;
#pragma unroll
        for (int j8 = 0; j8 < 4; ++j8) {
          float qf[R][8];
#pragma unroll
          for (int r = 0; r < R; ++r)
#pragma unroll
            for (int j = 0; j < 8; ++j) qf[r][j] = extract_scaled<bits>(w[u][r], j8 * 8 + j);
#pragma unroll
          for (int m = 0; m < MR; ++m) {
            const float4 a = xs[qidx::fast_xs_index(m, c, 2 * j8, CT)];
            const float4 b = xs[qidx::fast_xs_index(m, c, 2 * j8 + 1, CT)];
            const float xv[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
#pragma unroll
            for (int j = 0; j < 8; ++j)
#pragma unroll
              for (int r = 0; r < R; ++r) dot[r][m][j % P] = fmaf(qf[r][j], xv[j], dot[r][m][j % P]);
          }
        }
#pragma unroll
        for (int r = 0; r < R; ++r) {
#pragma unroll
          for (int m = 0; m < MR; ++m) {
            const float d = fold_positions<bits>(dot[r][m]);
            acc[r][m] = fmaf(sc[u][r], d, fmaf(bi[u][r], xsum[qidx::fast_xsum_index(m, c, CT)], acc[r][m]));
          }
        }
      }
      i0 += U;
      if (qidx::fast_chunk(i0, wk, 0) >= cn) break;  // uniform per warp
      load_batch(k0, cn, i0);
    }
  }

  // Warp sums, then the kWK warps of a row group in a fixed order.
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int m = 0; m < MR; ++m) {
      float v = acc[r][m];
#pragma unroll
      for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
      if (lane == 0) red[wk][(wr * R + r) * MR + m] = v;
    }
  __syncthreads();
  for (int i = threadIdx.x; i < kWR * R * MR; i += kFastThreads) {
    const int n = qidx::fast_row0(blockIdx.x, 0, R) + i / MR, m = i % MR;
    float v = 0.0f;
#pragma unroll
    for (int k = 0; k < kWK; ++k) v += red[k][i];
    if (n < N && m < M) out[static_cast<int64_t>(m) * N + n] = from_f<T>(v);
  }
}

// ---- GGUF rows staged through shared memory ----
// Each warp owns kGRows rows; per step it copies a segment of each row (GGSeg::chunks 32-value chunks, a
// multiple of 16 bytes) with 16-byte loads into its shared buffer, one segment ahead in registers,
// and decodes chunk `lane` of each row from there. Rows must be 16-byte aligned.
constexpr int kGWarps = 4, kGRows = 2;

template <int type>
struct GGSeg {
  static constexpr int chunks = type == gg_q6_k ? 64 : 32;  // 8 Q6_K blocks: 1680 bytes
  static constexpr int bytes = chunks * 32 / GGInfo<type>::block * GGInfo<type>::bytes;
  static constexpr int vec = bytes / 16;                   // uint4 per row segment
  static constexpr int per_lane = (kGRows * vec + 31) / 32;  // uint4 loads per lane and step
  static_assert(bytes % 16 == 0, "GGUF segment must be a multiple of 16 bytes");
};

// Q4_0 / Q8_0 chunk c of the kGRows staged rows (row r at stage + r * row_stride) against x values
// [k, k + 32) of each row of x, without conversion instructions: each field is put in place into the
// mantissa of 2^23 (one LOP3; Q8_0 also flips the sign bit: int8 q as q + 128), minus 2^23 (exact);
// values at position p of a half word keep their factor 2^(bits p) and go to partial dot p;
// acc[r][m] += d * (dot - offset * sum(x)), offset 8 (Q4_0) or 128 (Q8_0). Value order of a block:
// qidx::gg_q4_0_value / gg_q8_0_value.
template <int type, int MR>
__device__ __forceinline__ void gguf_dot_q40_q80(const uint8_t* stage, int row_stride, int c,
                                                 const float* (&xr)[MR], int64_t k, float (&acc)[kRows][MR]) {
  constexpr bool four = type == gg_q4_0;
  constexpr int bits = four ? 4 : 8, NW = four ? 4 : 8, P = 16 / bits, V = 32 / bits;
  constexpr int bytes = GGInfo<type>::bytes;
  using Ld = GGLoad<true>;
  float d[kRows];
  uint32_t w[kRows][NW];
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    const uint8_t* b = stage + r * row_stride + c * bytes;
    d[r] = f16_bits(Ld::u16(b));
#pragma unroll
    for (int i = 0; i < NW; ++i) w[r][i] = Ld::u32_a2(b + 2 + 4 * i);
  }
#pragma unroll
  for (int m = 0; m < MR; ++m) {
    float xv[32];
#pragma unroll
    for (int j8 = 0; j8 < 4; ++j8) {
      float t8[8];
      load_x8(xr[m] + k + j8 * 8, t8);
#pragma unroll
      for (int j = 0; j < 8; ++j) xv[j8 * 8 + j] = t8[j];
    }
    float xs = 0.0f;
#pragma unroll
    for (int j8 = 0; j8 < 4; ++j8) {
      const float* v = xv + 8 * j8;
      xs += ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
    }
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      float dot[P];
#pragma unroll
      for (int p = 0; p < P; ++p) dot[p] = 0.0f;
#pragma unroll
      for (int i = 0; i < NW; ++i) {
        const uint32_t lo = w[r][i], hi = lo >> 16;
#pragma unroll
        for (int t = 0; t < V; ++t) {
          const int j = four ? qidx::gg_q4_0_value(i, t) : qidx::gg_q8_0_value(i, t);
          float f;
          if constexpr (four) {
            f = field_scaled<4>(lo, hi, t);
          } else {
            f = field_scaled_flip8(lo, hi, t);
          }
          dot[t % P] = fmaf(f, xv[j], dot[t % P]);
        }
      }
      const float s = fold_positions<bits>(dot);
      acc[r][m] = fmaf(d[r], fmaf(four ? -8.0f : -128.0f, xs, s), acc[r][m]);
    }
  }
}

template <int type, int MR>
__global__ void __launch_bounds__(kGWarps * 32) gguf_mv_staged_kernel(const float* __restrict__ x,
                                                                      const uint8_t* __restrict__ w,
                                                                      float* __restrict__ out, int M, int N, int K) {
  using S = GGSeg<type>;
  constexpr int CPL = S::chunks / 32;  // chunks per lane and step
  __shared__ uint4 buf[kGWarps][kGRows * S::vec];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int n0 = (blockIdx.x * kGWarps + warp) * kGRows;
  if (n0 >= N) return;  // uniform per warp; only __syncwarp follows
  const int64_t row_bytes = static_cast<int64_t>(K) / GGInfo<type>::block * GGInfo<type>::bytes;
  const float* xr[MR];
  float acc[kRows][MR];
  static_assert(kRows == kGRows, "GGUF staged rows");
  start_rows(x, M, K, xr, acc);

  const int nseg = (K + S::chunks * 32 - 1) / (S::chunks * 32);
  // uint4 j of the step's copy: row j / vec, vector j % vec of segment s (rem: vectors in the segment).
  uint4 reg[S::per_lane];
#pragma unroll
  for (int i = 0; i < S::per_lane; ++i) reg[i] = make_uint4(0, 0, 0, 0);
  auto fetch = [&](int s) {
    const int64_t left = row_bytes / 16 - static_cast<int64_t>(s) * S::vec;
    const int vecs = left < S::vec ? static_cast<int>(left) : S::vec;
#pragma unroll
    for (int i = 0; i < S::per_lane; ++i) {
      const int j = i * 32 + lane, r = j / S::vec, v = j % S::vec;
      if (j < kGRows * S::vec && v < vecs) {
        const uint4* row = reinterpret_cast<const uint4*>(w + min(n0 + r, N - 1) * row_bytes);
        reg[i] = __ldcs(row + static_cast<int64_t>(s) * S::vec + v);
      }
    }
  };
  fetch(0);
  for (int s = 0; s < nseg; ++s) {
#pragma unroll
    for (int i = 0; i < S::per_lane; ++i) {
      const int j = i * 32 + lane;
      if (j < kGRows * S::vec) buf[warp][j] = reg[i];
    }
    if (s + 1 < nseg) fetch(s + 1);
    __syncwarp();
    const int kc0 = s * S::chunks, cn = min(S::chunks, K / 32 - kc0);
#pragma unroll
    for (int q = 0; q < CPL; ++q) {
      const int c = q * 32 + lane;
      if constexpr (type == gg_q4_0 || type == gg_q8_0) {
        if (c < cn) gguf_dot_q40_q80<type, MR>(reinterpret_cast<const uint8_t*>(&buf[warp][0]), S::vec * 16, c,
                                               xr, static_cast<int64_t>(kc0 + c) * 32, acc);
      } else if (c < cn) {
        float v[kGRows][32];
#pragma unroll
        for (int r = 0; r < kGRows; ++r) {
          gguf_decode32<type, true>(reinterpret_cast<const uint8_t*>(&buf[warp][r * S::vec]), c, v[r]);
        }
#pragma unroll
        for (int m = 0; m < MR; ++m) {
#pragma unroll
          for (int j8 = 0; j8 < 4; ++j8) {
            float xv[8];
            load_x8(xr[m] + static_cast<int64_t>(kc0 + c) * 32 + j8 * 8, xv);
#pragma unroll
            for (int j = 0; j < 8; ++j)
#pragma unroll
              for (int r = 0; r < kGRows; ++r) acc[r][m] = fmaf(v[r][j8 * 8 + j], xv[j], acc[r][m]);
          }
        }
      }
    }
    __syncwarp();  // buf is rewritten by the next step
  }
  warp_sum_store(acc, out, M, N, n0);
}

// ---- Tensor-core GEMV (4-bit W (N, K), f16/bf16 x, M <= 8): the default for M >= 2 ----
// A block of 8 warps owns one 16-row tile of W; warp w takes the 128-value super-steps w, w + 8, ...
// (4 in flight). Lane (g, t) loads 16 bytes (32 values) of rows g and g + 8: the quad's 4 lanes hold
// 4 consecutive 32-value ranges. Quad word transposes (MODE 1: lanes t ^ 2, gs 64; MODE 2: also
// t ^ 1, gs 32; MODE 0: none, gs 128) make every m16n8k16 step lie in one group. Nibbles p and p + 4
// of a word become an f16/bf16 pair exactly (magic exponent OR, then subtract the magic); x rows are
// the 8 columns of B (x pairs built with byte permutes), so one MMA serves all M rows; a second MMA
// of ones gives the group sums of x for the biases. Warp results are added in a fixed order.
constexpr int kTcWarps = 8, kTcU = 4;

template <typename T>
struct TcConst;
template <>
struct TcConst<__half> {
  static constexpr uint32_t magic = 0x64006400u, ones = 0x3C003C00u;  // (1024, 1024), (1, 1)
  static __device__ __forceinline__ uint32_t q2(uint32_t bits) {      // (1024 + a, 1024 + b) -> (a, b)
    __half2 h = *reinterpret_cast<const __half2*>(&bits);
    const uint32_t m = magic;
    h = __hsub2(h, *reinterpret_cast<const __half2*>(&m));
    return *reinterpret_cast<const uint32_t*>(&h);
  }
};
template <>
struct TcConst<__nv_bfloat16> {
  static constexpr uint32_t magic = 0x43004300u, ones = 0x3F803F80u;  // (128, 128), (1, 1)
  static __device__ __forceinline__ uint32_t q2(uint32_t bits) {
    __nv_bfloat162 h = *reinterpret_cast<const __nv_bfloat162*>(&bits);
    const uint32_t m = magic;
    h = __hsub2(h, *reinterpret_cast<const __nv_bfloat162*>(&m));
    return *reinterpret_cast<const uint32_t*>(&h);
  }
};

// Quad transposes of the 4 words w (word i of the lane's 32-value range t): for each step of MODE,
// lane t swaps slots tc_swap_slot(step, t, 0..1) with lane t ^ tc_swap_mask(step) (selects keep w
// in registers) -> slot i holds values qidx::tc_offset<MODE>(i, t) + [0, 8) of the super-step.
template <int MODE>
__device__ __forceinline__ void tc_transpose(uint32_t (&w)[4], int t) {
#pragma unroll
  for (int step = 1; step <= qidx::tc_steps(MODE); ++step) {
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      const int slot = qidx::tc_swap_slot(step, t, j);
      uint32_t v = w[0];
#pragma unroll
      for (int i = 1; i < 4; ++i) v = slot == i ? w[i] : v;
      v = __shfl_xor_sync(0xffffffffu, v, qidx::tc_swap_mask(step));
#pragma unroll
      for (int i = 0; i < 4; ++i) w[i] = slot == i ? v : w[i];
    }
  }
}

template <typename T, int MODE>
__global__ void __launch_bounds__(kTcWarps * 32) qmv_tc_kernel(const T* __restrict__ x, const uint32_t* __restrict__ wq,
                                                             const T* __restrict__ scales,
                                                             const T* __restrict__ biases, T* __restrict__ out, int M,
                                                             int N, int K, int gs) {
  using C = TcConst<T>;
  __shared__ float red[kTcWarps][16][8];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
  const int n0 = blockIdx.x * 16;
  const int64_t row_vec = static_cast<int64_t>(K) / 32;  // uint4 per row (4-bit)
  const int G = K / gs, S = K / 128;
  const int64_t nl = min(n0 + g, N - 1), nh = min(n0 + g + 8, N - 1);
  const uint4* wl = reinterpret_cast<const uint4*>(wq) + nl * row_vec;
  const uint4* wh = reinterpret_cast<const uint4*>(wq) + nh * row_vec;
  const T *sl = scales + nl * G, *bl = biases + nl * G, *sh = scales + nh * G, *bh = biases + nh * G;
  const bool has_x = g < M;
  const T* xg = x + static_cast<int64_t>(min(g, M - 1)) * K;
  const uint32_t one4[4] = {C::ones, C::ones, C::ones, C::ones};
  float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};

  for (int s0 = warp; s0 < S; s0 += kTcWarps * kTcU) {
    uint4 ul[kTcU], uh[kTcU];
#pragma unroll
    for (int u = 0; u < kTcU; ++u) {
      const int s = s0 + u * kTcWarps;
      if (s < S) {
        ul[u] = __ldcs(wl + 4 * s + t);
        uh[u] = __ldcs(wh + 4 * s + t);
      }
    }
#pragma unroll
    for (int u = 0; u < kTcU; ++u) {
      const int s = s0 + u * kTcWarps;
      if (s >= S) break;  // uniform per warp
      uint32_t a[4] = {ul[u].x, ul[u].y, ul[u].z, ul[u].w}, b[4] = {uh[u].x, uh[u].y, uh[u].z, uh[u].w};
      tc_transpose<MODE>(a, t);
      tc_transpose<MODE>(b, t);
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int k = s * 128 + qidx::tc_offset<MODE>(i, t);
        uint4 xv = make_uint4(0, 0, 0, 0);
        if (has_x) xv = __ldg(reinterpret_cast<const uint4*>(xg + k));
        // B pairs (x[k + p], x[k + p + 4]) for p = 0..3, matching the nibble pairs of A.
        const uint32_t x0 = __byte_perm(xv.x, xv.z, 0x5410), x1 = __byte_perm(xv.x, xv.z, 0x7632);
        const uint32_t x2 = __byte_perm(xv.y, xv.w, 0x5410), x3 = __byte_perm(xv.y, xv.w, 0x7632);
        const uint32_t a0[4] = {C::q2((a[i] & 0x000F000Fu) | C::magic), C::q2((b[i] & 0x000F000Fu) | C::magic),
                                C::q2(((a[i] >> 4) & 0x000F000Fu) | C::magic),
                                C::q2(((b[i] >> 4) & 0x000F000Fu) | C::magic)};
        const uint32_t a1[4] = {C::q2(((a[i] >> 8) & 0x000F000Fu) | C::magic),
                                C::q2(((b[i] >> 8) & 0x000F000Fu) | C::magic),
                                C::q2(((a[i] >> 12) & 0x000F000Fu) | C::magic),
                                C::q2(((b[i] >> 12) & 0x000F000Fu) | C::magic)};
        float c[4] = {0.0f, 0.0f, 0.0f, 0.0f}, xs[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        mma_16816<T>(c, a0, x0, x1);
        mma_16816<T>(c, a1, x2, x3);
        mma_16816<T>(xs, one4, x0, x1);
        mma_16816<T>(xs, one4, x2, x3);
        const int grp = (s * 128 + qidx::tc_offset<MODE>(i, t)) / gs;  // the same for the 4 lanes of the slot
        const float s_l = to_f(sl[grp]), b_l = to_f(bl[grp]), s_h = to_f(sh[grp]), b_h = to_f(bh[grp]);
        acc[0] = fmaf(s_l, c[0], fmaf(b_l, xs[0], acc[0]));
        acc[1] = fmaf(s_l, c[1], fmaf(b_l, xs[1], acc[1]));
        acc[2] = fmaf(s_h, c[2], fmaf(b_h, xs[2], acc[2]));
        acc[3] = fmaf(s_h, c[3], fmaf(b_h, xs[3], acc[3]));
      }
    }
  }
  // C fragment: rows g, g + 8; columns (x rows) 2t, 2t + 1.
  red[warp][g][2 * t] = acc[0];
  red[warp][g][2 * t + 1] = acc[1];
  red[warp][g + 8][2 * t] = acc[2];
  red[warp][g + 8][2 * t + 1] = acc[3];
  __syncthreads();
  if (threadIdx.x < 128) {
    const int r = threadIdx.x / 8, m = threadIdx.x % 8;
    float v = 0.0f;
#pragma unroll
    for (int w = 0; w < kTcWarps; ++w) v += red[w][r][m];
    if (n0 + r < N && m < M) out[static_cast<int64_t>(m) * N + n0 + r] = from_f<T>(v);
  }
}

unsigned int row_blocks(int N) {
  int64_t warps = (static_cast<int64_t>(N) + kRows - 1) / kRows;
  return static_cast<unsigned int>((warps + kWarps - 1) / kWarps);
}

// "old" row-streaming kernel, every width; false for an unsupported dtype or width.
bool launch_old(int dt, const AffineWeight& wt, const void* x, void* out, int M, int N, int K, cudaStream_t st) {
  bool bits_ok = false;
  bool ok = dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    bits_ok = dispatch_bits(wt.bits, [&](auto b) {
      constexpr int bits = decltype(b)::value;
      dispatch_rows(M, [&](auto mr) {
        constexpr int MR = decltype(mr)::value;
        // Two chunks in flight per row for the narrow widths and up to 4 rows of x.
        constexpr int U = bits <= 4 && MR <= 4 ? 2 : 1;
        qmv_t_kernel<T, bits, MR, U><<<row_blocks(N), kWarps * 32, 0, st>>>(
            static_cast<const T*>(x), wt.w, static_cast<const T*>(wt.scales), static_cast<const T*>(wt.biases),
            static_cast<T*>(out), M, N, K, wt.group_size);
        TESSERA_KERNEL_CHECK();
      });
    });
  });
  return ok && bits_ok;
}

// "fast" staged-x kernel, bits 4 and 8 only; false (nothing launched) otherwise.
bool launch_fast(int dt, const AffineWeight& wt, const void* x, void* out, int M, int N, int K, cudaStream_t st) {
  if (wt.bits != 4 && wt.bits != 8) return false;
  return dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    auto run = [&](auto b) {
      constexpr int bits = decltype(b)::value;
      dispatch_rows(M, [&](auto mr) {
        constexpr int MR = decltype(mr)::value;
        constexpr int rows_per_block = kWR * FastShape<MR>::R;
        const auto blocks =
            static_cast<unsigned int>((static_cast<int64_t>(N) + rows_per_block - 1) / rows_per_block);
        qmv_fast_kernel<T, bits, MR><<<blocks, kFastThreads, 0, st>>>(
            static_cast<const T*>(x), wt.w, static_cast<const T*>(wt.scales), static_cast<const T*>(wt.biases),
            static_cast<T*>(out), M, N, K, wt.group_size);
        TESSERA_KERNEL_CHECK();
      });
    };
    if (wt.bits == 4) {
      run(std::integral_constant<int, 4>{});
    } else {
      run(std::integral_constant<int, 8>{});
    }
  });
}

// The forced kernel: set_qgemv_kernel, else TESSERA_QGEMV (read at the first call), else automatic.
std::atomic<int> g_qgemv_forced{-1};  // -1: not yet read from the environment

QGemvKernel qgemv_from_env() {
  const char* v = std::getenv("TESSERA_QGEMV");
  if (v == nullptr || *v == '\0' || std::strcmp(v, "auto") == 0) return QGemvKernel::automatic;
  if (std::strcmp(v, "old") == 0) return QGemvKernel::old;
  if (std::strcmp(v, "fast") == 0) return QGemvKernel::fast;
  if (std::strcmp(v, "tc") == 0) return QGemvKernel::tc;
  if (std::strcmp(v, "lop3") == 0) return QGemvKernel::lop3;
  if (std::strcmp(v, "h2") == 0) return QGemvKernel::h2;
  throw std::invalid_argument(std::string("[quantized_matmul] TESSERA_QGEMV must be auto, old, fast, tc, lop3 or h2, not '") +
                              v + "'.");
}

}  // namespace

void affine_gemv_t(int dt, const AffineWeight& wt, const void* x, void* out, int M, int N, int K, cudaStream_t st) {
  if (M > kQuantGemvMaxRows) throw std::invalid_argument("[quantized_matmul] GEMV takes at most 8 rows.");
  // A forced kernel where it applies (it may not: tc is 4-bit f16/bf16 only, fast bits 4/8), else the choice.
  const QGemvKernel k = qgemv_kernel();
  if (k != QGemvKernel::automatic && affine_gemv_with(k, dt, wt, x, out, M, N, K, st)) return;
  if (!affine_gemv_with(QGemvKernel::automatic, dt, wt, x, out, M, N, K, st)) {
    throw std::invalid_argument("[quantized_matmul] unsupported dtype or bits on the GPU.");
  }
}

void affine_gemv_n(int dt, const AffineWeight& wt, const void* x, float* acc, int M, int N, int K, cudaStream_t st) {
  cudaError_t e = cudaMemsetAsync(acc, 0, sizeof(float) * static_cast<size_t>(M) * N, st);
  if (e != cudaSuccess) throw std::runtime_error(std::string("[cuda] cudaMemsetAsync failed: ") + cudaGetErrorString(e));
  const int nchunks = N / 32;
  // About 64K threads in all, at least 16 rows of W per slice.
  int slices = std::max(1, std::min({(K + 15) / 16, (65536 + nchunks - 1) / std::max(nchunks, 1), 65535}));
  int kps = (K + slices - 1) / slices;
  slices = (K + kps - 1) / kps;
  dim3 grid(static_cast<unsigned int>((nchunks + 127) / 128), static_cast<unsigned int>(slices));
  bool ok = dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    dispatch_bits(wt.bits, [&](auto b) {
      constexpr int bits = decltype(b)::value;
      // Tiles of 4 rows of x (the 32 x MR accumulators live in registers).
      for (int m0 = 0; m0 < M; m0 += 4) {
        int mr = std::min(4, M - m0);
        const T* xp = static_cast<const T*>(x) + static_cast<int64_t>(m0) * K;
        float* ap = acc + static_cast<int64_t>(m0) * N;
        auto ws = static_cast<const T*>(wt.scales);
        auto wb = static_cast<const T*>(wt.biases);
        if (mr == 1) {
          qmv_n_kernel<T, bits, 1><<<grid, 128, 0, st>>>(xp, wt.w, ws, wb, ap, mr, N, K, wt.group_size, kps);
        } else {
          qmv_n_kernel<T, bits, 4><<<grid, 128, 0, st>>>(xp, wt.w, ws, wb, ap, mr, N, K, wt.group_size, kps);
        }
        TESSERA_KERNEL_CHECK();
      }
    });
  });
  if (!ok) throw std::invalid_argument("[quantized_matmul] unsupported dtype on the GPU.");
}

void gguf_gemv(int type, const float* x, const uint8_t* w, float* out, int M, int N, int K, cudaStream_t st) {
  if (M > kQuantGemvMaxRows) throw std::invalid_argument("[gguf_quantized_matmul] GEMV takes at most 8 rows.");
  bool ok = dispatch_gguf(type, [&](auto tt) {
    constexpr int type_ = decltype(tt)::value;
    dispatch_rows(M, [&](auto mr) {
      constexpr int MR = decltype(mr)::value;
      const int64_t row_bytes = static_cast<int64_t>(K) / GGInfo<type_>::block * GGInfo<type_>::bytes;
      if (row_bytes % 16 == 0 && reinterpret_cast<uintptr_t>(w) % 16 == 0) {
        const int64_t warps = (static_cast<int64_t>(N) + kGRows - 1) / kGRows;
        const auto blocks = static_cast<unsigned int>((warps + kGWarps - 1) / kGWarps);
        gguf_mv_staged_kernel<type_, MR><<<blocks, kGWarps * 32, 0, st>>>(x, w, out, M, N, K);
      } else {  // rows only 2-byte aligned: each lane reads its blocks in place
        gguf_mv_kernel<type_, MR><<<row_blocks(N), kWarps * 32, 0, st>>>(x, w, out, M, N, K);
      }
      TESSERA_KERNEL_CHECK();
    });
  });
  if (!ok) throw std::invalid_argument("[gguf_quantized_matmul] unsupported GGUF type on the GPU.");
}

}  // namespace tessera::cuda::q

namespace tessera::cuda {

bool affine_gemv_tc(int dt, const AffineWeight& w, const void* x, void* out, int64_t M, int64_t N, int64_t K,
                    cudaStream_t st) {
  using namespace q;
  if (w.bits != 4 || !w.transpose || M < 1 || M > kQuantGemvMaxRows || K % 128 != 0 || N > 0x7fffffff ||
      K > 0x7fffffff || (dt != dt_f16 && dt != dt_bf16) ||
      (w.group_size != 32 && w.group_size != 64 && w.group_size != 128)) {
    return false;
  }
  if (N == 0) return true;
  const auto blocks = static_cast<unsigned int>((N + 15) / 16);
  const int m = static_cast<int>(M), n = static_cast<int>(N), k = static_cast<int>(K);
  auto launch = [&](auto t, auto mode) {
    using T = decltype(t);
    qmv_tc_kernel<T, decltype(mode)::value><<<blocks, kTcWarps * 32, 0, st>>>(
        static_cast<const T*>(x), w.w, static_cast<const T*>(w.scales), static_cast<const T*>(w.biases),
        static_cast<T*>(out), m, n, k, w.group_size);
    TESSERA_KERNEL_CHECK();
  };
  dispatch_float(dt, [&](auto t) {
    if constexpr (!std::is_same_v<decltype(t), float>) {
      if (w.group_size == 128) {
        launch(t, std::integral_constant<int, 0>{});
      } else if (w.group_size == 64) {
        launch(t, std::integral_constant<int, 1>{});
      } else {
        launch(t, std::integral_constant<int, 2>{});
      }
    }
  });
  return true;
}

QGemvKernel qgemv_kernel() {
  int k = q::g_qgemv_forced.load(std::memory_order_relaxed);
  if (k < 0) {
    k = static_cast<int>(q::qgemv_from_env());
    int expected = -1;
    q::g_qgemv_forced.compare_exchange_strong(expected, k);
    k = q::g_qgemv_forced.load(std::memory_order_relaxed);
  }
  return static_cast<QGemvKernel>(k);
}

void set_qgemv_kernel(QGemvKernel k) { q::g_qgemv_forced.store(static_cast<int>(k), std::memory_order_relaxed); }

namespace {

QGemvKernel qgemv_auto_choice(int dt, const AffineWeight& w, int64_t M, int64_t K) {
  // Measured (H200, s4a): for M >= 2 the tensor-core GEMV (one weight pass for all rows) beats the
  // row-streaming kernel by far where it applies (4-bit, f16/bf16 x). M = 1: the conversion-free
  // float32 kernel (lop3; 4.4 SASS instructions a weight against 6.6 for old), except 8-bit f16/bf16
  // x, which takes packed f16 products (h2). In the 7b decode graph (H100, 2026-11-26) h2 gave 8-bit
  // 253 against 251 tok/s but 4-bit 323 against 337, although alone it is faster at most shapes.
  const bool tc_ok = w.bits == 4 && (dt == dt_f16 || dt == dt_bf16) && K % 128 == 0 && qidx::tc_mode(w.group_size) >= 0;
  if (M >= 2) return tc_ok ? QGemvKernel::tc : QGemvKernel::old;
  const bool lop3_ok = (w.bits == 4 || w.bits == 8) && qidx::lop_group_shift(w.group_size) >= 0;
  if (lop3_ok && w.bits == 8 && dt != dt_f32) return QGemvKernel::h2;
  return lop3_ok ? QGemvKernel::lop3 : QGemvKernel::old;
}

}  // namespace

bool affine_gemv_with(QGemvKernel k, int dt, const AffineWeight& w, const void* x, void* out, int64_t M, int64_t N,
                      int64_t K, cudaStream_t st) {
  if (!w.transpose || M < 1 || M > kQuantGemvMaxRows || N > 0x7fffffff || K > 0x7fffffff) return false;
  if (N == 0) return true;
  const int m = static_cast<int>(M), n = static_cast<int>(N), kk = static_cast<int>(K);
  if (k == QGemvKernel::automatic) {
    k = qgemv_auto_choice(dt, w, M, K);
    if (k == QGemvKernel::tc && affine_gemv_tc(dt, w, x, out, M, N, K, st)) return true;
    if (k == QGemvKernel::h2 && q::launch_h2(dt, w, x, out, m, n, kk, st)) return true;  // K too long: lop3
    if ((k == QGemvKernel::h2 || k == QGemvKernel::lop3) && q::launch_lop3(dt, w, x, out, m, n, kk, st)) return true;
    k = QGemvKernel::old;
  }
  switch (k) {
    case QGemvKernel::tc: return affine_gemv_tc(dt, w, x, out, M, N, K, st);
    case QGemvKernel::fast: return q::launch_fast(dt, w, x, out, m, n, kk, st);
    case QGemvKernel::lop3: return q::launch_lop3(dt, w, x, out, m, n, kk, st);
    case QGemvKernel::h2: return q::launch_h2(dt, w, x, out, m, n, kk, st);
    default: return q::launch_old(dt, w, x, out, m, n, kk, st);
  }
}

}  // namespace tessera::cuda
