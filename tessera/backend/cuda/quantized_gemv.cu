// Quantized decode GEMV kernels (x rows M <= 8, one pass over the weights for all rows): affine
// W (N, K) (bits 4/8: x staged in shared memory, 16-byte weight loads, several in flight) and GGUF
// rows (16-byte copies through shared memory) dequantized in registers; affine W (K, N) by column
// chunks with split-K.
#include <algorithm>
#include <cstdint>

#include "tessera/backend/cuda/kernels/mma.cuh"
#include "tessera/backend/cuda/kernels/quantized.cuh"

namespace tessera::cuda::q {

namespace {

constexpr int kWarps = 4;  // warps per block of the row-streaming kernels
constexpr int kRows = 2;   // rows of W per warp (each x load serves both)

// Row pointers of the MR-row tile of x (rows past M repeat row M - 1) and zeroed accumulators.
template <typename T, int MR>
__device__ __forceinline__ void start_rows(const T* x, int M, int K, const T* (&xr)[MR], float (&acc)[kRows][MR]) {
#pragma unroll
  for (int m = 0; m < MR; ++m) {
    xr[m] = x + static_cast<int64_t>(min(m, M - 1)) * K;
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
  const int n0 = (blockIdx.x * kWarps + (threadIdx.x >> 5)) * kRows;
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

  for (int c0 = lane; c0 < nchunks; c0 += 32 * U) {
    uint32_t w[U][kRows][bits];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      if (c0 + 32 * u < nchunks) {
#pragma unroll
        for (int r = 0; r < kRows; ++r) load_chunk<bits>(wr[r] + static_cast<int64_t>(c0 + 32 * u) * bits, w[u][r]);
      }
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int c = c0 + 32 * u;
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
          float d = dot[r][m][0];
#pragma unroll
          for (int p = 1; p < P; ++p) d = fmaf(dot[r][m][p], 1.0f / static_cast<float>(1u << (bits * p)), d);
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

// ---- Bandwidth path of affine W (N, K), bits 4 and 8 ----
// A block of 8 warps: kWR row groups x kWK K-interleaved warps; each warp owns R rows of W; lane l
// takes the 32-value chunks l, l + 32 * kWK, ... (one 16-byte (4-bit) or 32-byte (8-bit) load per
// row and chunk; U chunks per row in flight). x (MR rows, a K tile) is staged once per block in
// shared memory as float32 (chunk-swizzled: lanes read conflict-free float4s) with per-group sums;
// the weight loads of a tile's first batch are issued before the staging. The kWK partial sums of a
// row are added in a fixed order (deterministic, no atomics).
constexpr int kFastThreads = 256;
constexpr int kWK = 2, kWR = kFastThreads / 32 / kWK;
constexpr int kXTile = 8192;  // x floats staged per block (32 KB): K tile = kXTile / MR

// Rows per warp and chunks in flight per row, by rows of x (registers: R*U*bits words, R*MR*P dots).
template <int MR>
struct FastShape {
  static constexpr int R = MR <= 2 ? 4 : 2;
  static constexpr int U = MR <= 4 ? 2 : 1;
};

template <typename T, int bits, int MR>
__global__ void __launch_bounds__(kFastThreads) qmv_fast_kernel(const T* __restrict__ x,
                                                                const uint32_t* __restrict__ wq,
                                                                const T* __restrict__ scales,
                                                                const T* __restrict__ biases, T* __restrict__ out,
                                                                int M, int N, int K, int gs) {
  constexpr int R = FastShape<MR>::R, U = FastShape<MR>::U;
  constexpr int KT = kXTile / MR, CT = KT / 32;  // K tile (values, chunks)
  constexpr int P = 16 / bits;                   // partial dots per value position in a half word
  __shared__ float4 xs[MR * CT * 8];             // [m][chunk][8 float4, swizzled by chunk & 7]
  __shared__ float gsum[MR * CT];                // [m][group of the tile] (at most CT groups)
  __shared__ float red[kWK][kWR * R * MR];

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int wk = warp % kWK, wr = warp / kWK;
  const int nb = blockIdx.x * (kWR * R) + wr * R;  // first row of this warp
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
  // Loads chunk batch i0 (chunks ((i0 + u) * kWK + wk) * 32 + lane of the tile at k0, cn chunks).
  auto load_batch = [&](int k0, int cn, int i0) {
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int c = ((i0 + u) * kWK + wk) * 32 + lane;
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
    __syncthreads();  // the previous tile's xs / gsum are no longer read
    {
      // Stage x: item e = 8 values (m, k0 + 8 e'), groups summed over gs / 8 consecutive lanes.
      const int per_m = kt / 8, items = MR * per_m, lanes_per_group = gs / 8;
      for (int base = 0; base < items; base += kFastThreads) {  // uniform trip count
        const int e = base + threadIdx.x;
        float v[8];
        const bool ok = e < items;
        const int m = ok ? e / per_m : 0, e8 = ok ? e % per_m : 0;
        if (ok && m < M) {
          load_x8(x + static_cast<int64_t>(m) * K + k0 + e8 * 8, v);
        } else {
#pragma unroll
          for (int j = 0; j < 8; ++j) v[j] = 0.0f;
        }
        const int c = e8 >> 2, j8 = e8 & 3;
        if (ok) {
          float4* dst = xs + (m * CT + c) * 8;
          dst[(2 * j8) ^ (c & 7)] = make_float4(v[0], v[1], v[2], v[3]);
          dst[(2 * j8 + 1) ^ (c & 7)] = make_float4(v[4], v[5], v[6], v[7]);
        }
        float t = ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
        for (int off = 1; off < lanes_per_group; off <<= 1) t += __shfl_xor_sync(0xffffffffu, t, off);
        // items of a group are gs / 8 consecutive e inside one m row (per_m is a multiple of gs / 8)
        if (ok && e8 % lanes_per_group == 0) gsum[m * CT + e8 / lanes_per_group] = t;
      }
    }
    __syncthreads();

    for (int i0 = 0;; ) {
#pragma unroll
      for (int u = 0; u < U; ++u) {
        const int c = ((i0 + u) * kWK + wk) * 32 + lane;
        if (c >= cn) continue;
        float dot[R][MR][P];
#pragma unroll
        for (int r = 0; r < R; ++r)
#pragma unroll
          for (int m = 0; m < MR; ++m)
#pragma unroll
            for (int p = 0; p < P; ++p) dot[r][m][p] = 0.0f;
        const float4* xc = xs + c * 8;
#pragma unroll
        for (int j8 = 0; j8 < 4; ++j8) {
          float qf[R][8];
#pragma unroll
          for (int r = 0; r < R; ++r)
#pragma unroll
            for (int j = 0; j < 8; ++j) qf[r][j] = extract_scaled<bits>(w[u][r], j8 * 8 + j);
#pragma unroll
          for (int m = 0; m < MR; ++m) {
            const float4 a = xc[m * CT * 8 + ((2 * j8) ^ (c & 7))];
            const float4 b = xc[m * CT * 8 + ((2 * j8 + 1) ^ (c & 7))];
            const float xv[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
#pragma unroll
            for (int j = 0; j < 8; ++j)
#pragma unroll
              for (int r = 0; r < R; ++r) dot[r][m][j % P] = fmaf(qf[r][j], xv[j], dot[r][m][j % P]);
          }
        }
        const int gl = c * 32 / gs;
#pragma unroll
        for (int r = 0; r < R; ++r) {
#pragma unroll
          for (int m = 0; m < MR; ++m) {
            float d = dot[r][m][0];
#pragma unroll
            for (int p = 1; p < P; ++p) d = fmaf(dot[r][m][p], 1.0f / static_cast<float>(1u << (bits * p)), d);
            acc[r][m] = fmaf(sc[u][r], d, fmaf(bi[u][r], gsum[m * CT + gl], acc[r][m]));
          }
        }
      }
      i0 += U;
      if ((i0 * kWK + wk) * 32 >= cn) break;  // uniform per warp
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
    const int n = blockIdx.x * (kWR * R) + i / MR, m = i % MR;
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
      if (c < cn) {
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

// ---- Tensor-core GEMV (4-bit W (N, K), f16/bf16 x, M <= 8), not yet the default path ----
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

// Quad transposes of the 4 words w (word i of the lane's 32-value range t) -> see TcSlot.
template <int MODE>
__device__ __forceinline__ void tc_transpose(uint32_t (&w)[4], int t) {
  if constexpr (MODE >= 1) {
    const bool hi = t & 2;
    const uint32_t r0 = __shfl_xor_sync(0xffffffffu, hi ? w[0] : w[2], 2);
    const uint32_t r1 = __shfl_xor_sync(0xffffffffu, hi ? w[1] : w[3], 2);
    if (hi) {
      w[0] = r0, w[1] = r1;
    } else {
      w[2] = r0, w[3] = r1;
    }
  }
  if constexpr (MODE >= 2) {
    const bool lo = t & 1;
#pragma unroll
    for (int b = 0; b < 2; ++b) {
      const uint32_t r = __shfl_xor_sync(0xffffffffu, lo ? w[2 * b] : w[2 * b + 1], 1);
      if (lo) {
        w[2 * b] = r;
      } else {
        w[2 * b + 1] = r;
      }
    }
  }
}

// After tc_transpose<MODE>, word slot i of lane t holds word `omega` of 32-value range `rho` of the
// super-step: values 32 rho + 8 omega + [0, 8). The 4 lanes of slot i cover one 32-value piece of a group.
template <int MODE>
__device__ __forceinline__ int tc_offset(int i, int t) {
  const int rho = MODE == 0 ? t : MODE == 1 ? 2 * (i >> 1) + (t & 1) : i;
  const int omega = MODE == 0 ? i : MODE == 1 ? 2 * (t >> 1) + (i & 1) : t;
  return 32 * rho + 8 * omega;
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
        const int k = s * 128 + tc_offset<MODE>(i, t);
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
        const int grp = (s * 128 + tc_offset<MODE>(i, t)) / gs;  // the same for the 4 lanes of the slot
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

unsigned int row_blocks(int N) {
  int64_t warps = (static_cast<int64_t>(N) + kRows - 1) / kRows;
  return static_cast<unsigned int>((warps + kWarps - 1) / kWarps);
}

}  // namespace

void affine_gemv_t(int dt, const AffineWeight& wt, const void* x, void* out, int M, int N, int K, cudaStream_t st) {
  if (M > kQuantGemvMaxRows) throw std::invalid_argument("[quantized_matmul] GEMV takes at most 8 rows.");
  bool ok = dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    dispatch_bits(wt.bits, [&](auto b) {
      constexpr int bits = decltype(b)::value;
      dispatch_rows(M, [&](auto mr) {
        constexpr int MR = decltype(mr)::value;
        if constexpr (bits == 4 || bits == 8) {
          constexpr int rows_per_block = kWR * FastShape<MR>::R;
          const auto blocks = static_cast<unsigned int>((static_cast<int64_t>(N) + rows_per_block - 1) / rows_per_block);
          qmv_fast_kernel<T, bits, MR><<<blocks, kFastThreads, 0, st>>>(
              static_cast<const T*>(x), wt.w, static_cast<const T*>(wt.scales), static_cast<const T*>(wt.biases),
              static_cast<T*>(out), M, N, K, wt.group_size);
          TESSERA_KERNEL_CHECK();
          return;
        }
        // Other widths: two chunks in flight per row for the narrow widths and up to 4 rows of x.
        constexpr int U = bits <= 4 && MR <= 4 ? 2 : 1;
        qmv_t_kernel<T, bits, MR, U><<<row_blocks(N), kWarps * 32, 0, st>>>(
            static_cast<const T*>(x), wt.w, static_cast<const T*>(wt.scales), static_cast<const T*>(wt.biases),
            static_cast<T*>(out), M, N, K, wt.group_size);
        TESSERA_KERNEL_CHECK();
      });
    });
  });
  if (!ok) throw std::invalid_argument("[quantized_matmul] unsupported dtype on the GPU.");
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

}  // namespace tessera::cuda
