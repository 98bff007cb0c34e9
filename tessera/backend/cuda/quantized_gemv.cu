// Quantized decode GEMV kernels (x rows M <= 8): affine W (N, K) and GGUF rows streamed by warps
// with wide loads and dequantized in registers; affine W (K, N) by column chunks with split-K.
#include <algorithm>

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
        // Two chunks in flight per row for the narrow widths and up to 4 rows of x (registers).
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
      gguf_mv_kernel<type_, MR><<<row_blocks(N), kWarps * 32, 0, st>>>(x, w, out, M, N, K);
      TESSERA_KERNEL_CHECK();
    });
  });
  if (!ok) throw std::invalid_argument("[gguf_quantized_matmul] unsupported GGUF type on the GPU.");
}

}  // namespace tessera::cuda::q
