// Batched affine quantized matmul kernels (one launch over all batch entries; the quantized KV cache's
// scores q K^T and outputs p V): W^T by lane groups per weight row, W by one column per thread over a
// slice of K with a second pass summing the slices.
#include <algorithm>

#include "tessera/backend/cuda/kernels/quantized.cuh"
#include "tessera/backend/cuda/kernels_quantized_batched.h"
#include "tessera/backend/cuda/runtime.h"

namespace tessera::cuda {

namespace {

using namespace q;

constexpr int kTThreads = 256;  // threads of a W^T block
constexpr int kNThreads = 128;  // most threads of a W block
constexpr int kMaxGrid = 65535;

// Element offset of batch entry z's matrix in operand k.
__device__ __forceinline__ int64_t batch_offset(const QBatch& b, int k, int64_t z) {
  int64_t off = 0;
  for (int d = b.ndim - 1; d >= 0; --d) {
    off += (z % b.shape[d]) * b.strides[k][d];
    z /= b.shape[d];
  }
  return off;
}

// out[z, m, n] = sum over chunks c (32 values) of scale[n, g] * (q[n, c] . x[z, m, c]) + bias[n, g] *
// sum(x[z, m, c]). A group of `lpr` lanes (a power of two <= 32) owns one row n of W and takes the
// chunks sub, sub + lpr, ...; MR rows of x a tile (rows past M repeat row M - 1 and are not stored).
template <typename T, int bits, int MR>
__global__ void __launch_bounds__(kTThreads) bqmv_t_kernel(const T* __restrict__ x, const uint32_t* __restrict__ wq,
                                                           const T* __restrict__ scales, const T* __restrict__ biases,
                                                           T* __restrict__ out, const QBatch b, int M, int N, int K,
                                                           int gs, int lpr) {
  const int sub = threadIdx.x % lpr;
  const int n = blockIdx.x * (kTThreads / lpr) + threadIdx.x / lpr;
  const int nr = min(n, N - 1);
  const int nchunks = K / 32, G = K / gs;
  const int64_t row_words = static_cast<int64_t>(nchunks) * bits;
  const int tiles = (M + MR - 1) / MR;
  for (int64_t z = blockIdx.z; z < b.count; z += gridDim.z) {
    const uint32_t* wr = wq + batch_offset(b, 1, z) + nr * row_words;
    const T* sr = scales + batch_offset(b, 2, z) + static_cast<int64_t>(nr) * G;
    const T* br = biases + batch_offset(b, 3, z) + static_cast<int64_t>(nr) * G;
    const T* xz = x + batch_offset(b, 0, z);
    for (int t = blockIdx.y; t < tiles; t += gridDim.y) {
      const int m0 = t * MR;
      const T* xr[MR];
      float acc[MR] = {};
      tile_rows(xz, m0, M, K, xr);
      for (int c = sub; c < nchunks; c += lpr) {
        uint32_t w[bits];
#pragma unroll
        for (int i = 0; i < bits; ++i) w[i] = __ldg(wr + static_cast<int64_t>(c) * bits + i);
        float qf[32];
#pragma unroll
        for (int j = 0; j < 32; ++j) qf[j] = u2f(extract<bits>(w, j));
        const int g = c * 32 / gs;
        const float s = to_f(sr[g]), bb = to_f(br[g]);
#pragma unroll
        for (int m = 0; m < MR; ++m) {
          const T* xc = xr[m] + c * 32;
          float dot = 0.0f, xs = 0.0f;
#pragma unroll
          for (int j = 0; j < 32; ++j) {
            const float xv = to_f(xc[j]);
            dot = fmaf(qf[j], xv, dot);
            xs += xv;
          }
          acc[m] += s * dot + bb * xs;
        }
      }
      // Sum over the lane group (contiguous lanes, lpr divides 32: xor stays inside the group).
#pragma unroll
      for (int m = 0; m < MR; ++m) {
        for (int off = lpr / 2; off > 0; off >>= 1) acc[m] += __shfl_xor_sync(0xffffffffu, acc[m], off);
      }
      if (sub == 0 && n < N) {
#pragma unroll
        for (int m = 0; m < MR; ++m) {
          if (m0 + m < M) out[(z * M + m0 + m) * N + n] = from_f<T>(acc[m]);
        }
      }
    }
  }
}

// part[z, slice, m, n] = sum over k in the slice of x[z, m, k] * W[k, n], W[k, n] = scale * q + bias:
// one thread per column n, blockIdx.y the slice of K (k_per_slice rows of W), all M rows by tiles of MR.
template <typename T, int bits, int MR>
__global__ void __launch_bounds__(kNThreads) bqmv_n_kernel(const T* __restrict__ x, const uint32_t* __restrict__ wq,
                                                           const T* __restrict__ scales, const T* __restrict__ biases,
                                                           float* __restrict__ part, const QBatch b, int M, int N,
                                                           int K, int gs, int k_per_slice) {
  const int n = blockIdx.x * blockDim.x + threadIdx.x;
  if (n >= N) return;  // no barrier or shuffle follows
  const int slice = blockIdx.y, slices = gridDim.y;
  const int k0 = slice * k_per_slice, k1 = min(K, k0 + k_per_slice);
  const int64_t row_words = static_cast<int64_t>(N) / 32 * bits;
  const int Gn = N / gs, g = n / gs;
  const int64_t pos = static_cast<int64_t>(n) * bits, wi = pos >> 5;
  const int sh = static_cast<int>(pos & 31);
  const bool two = sh + bits > 32;
  constexpr uint32_t mask = (1u << bits) - 1;
  for (int64_t z = blockIdx.z; z < b.count; z += gridDim.z) {
    const uint32_t* wz = wq + batch_offset(b, 1, z) + wi;
    const T* sz = scales + batch_offset(b, 2, z) + g;
    const T* bz = biases + batch_offset(b, 3, z) + g;
    const T* xz = x + batch_offset(b, 0, z);
    for (int m0 = 0; m0 < M; m0 += MR) {
      const T* xr[MR];
      float acc[MR] = {};
      tile_rows(xz, m0, M, K, xr);
#pragma unroll 4
      for (int k = k0; k < k1; ++k) {
        const uint32_t* wk = wz + k * row_words;
        uint32_t v = __ldg(wk) >> sh;
        if (two) v |= __ldg(wk + 1) << (32 - sh);
        const int64_t gi = static_cast<int64_t>(k) * Gn;
        const float wv = fmaf(to_f(sz[gi]), u2f(v & mask), to_f(bz[gi]));
#pragma unroll
        for (int m = 0; m < MR; ++m) acc[m] = fmaf(wv, to_f(xr[m][k]), acc[m]);
      }
#pragma unroll
      for (int m = 0; m < MR; ++m) {
        if (m0 + m < M) part[((z * slices + slice) * M + m0 + m) * N + n] = acc[m];
      }
    }
  }
}

// out[z, r] = sum over slices of part[z, slice, r] (r < per = M * N), in T.
template <typename T>
__global__ void sum_slices_kernel(const float* __restrict__ part, T* __restrict__ out, int64_t total, int64_t per,
                                  int slices) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t z = i / per, r = i % per;
    const float* p = part + z * slices * per + r;
    float s = 0.0f;
    for (int k = 0; k < slices; ++k) s += p[k * per];
    out[i] = from_f<T>(s);
  }
}

// Calls f(std::integral_constant<int, MR>{}) with MR 1, 4 or 8: the smallest holding min(M, 8) rows.
template <typename F>
void dispatch_tile(int64_t M, F&& f) {
  if (M <= 1) {
    f(std::integral_constant<int, 1>{});
  } else if (M <= 4) {
    f(std::integral_constant<int, 4>{});
  } else {
    f(std::integral_constant<int, 8>{});
  }
}

unsigned int grid_dim(int64_t n) { return static_cast<unsigned int>(std::max<int64_t>(1, std::min<int64_t>(n, kMaxGrid))); }

// Threads of a W block: the columns rounded up to a warp, at most kNThreads.
int n_threads(int64_t N) { return static_cast<int>(std::min<int64_t>(kNThreads, (N + 31) / 32 * 32)); }

// Slices of K for transpose = false: about 1024 blocks in all, at least 32 rows of W a slice, and a
// workspace of at most 2^24 floats (64 MiB) where one slice already fits.
int n_slices(const QBatch& b, int64_t M, int64_t N, int64_t K) {
  const int64_t col_blocks = (N + n_threads(N) - 1) / n_threads(N);
  const int64_t entries = std::min<int64_t>(b.count, kMaxGrid);
  int64_t s = (1024 + entries * col_blocks - 1) / (entries * col_blocks);
  s = std::min<int64_t>({s, (K + 31) / 32, kMaxGrid});
  const int64_t per_slice = std::max<int64_t>(1, b.count * M * N);
  s = std::min<int64_t>(s, std::max<int64_t>(1, (int64_t{1} << 24) / per_slice));
  s = std::max<int64_t>(s, 1);
  const int64_t kps = (K + s - 1) / s;
  return static_cast<int>((K + kps - 1) / kps);
}

}  // namespace

size_t batched_qmm_workspace(bool transpose, const QBatch& b, int64_t M, int64_t N, int64_t K) {
  if (transpose || M == 0 || N == 0 || K == 0 || b.count == 0) return 0;
  return static_cast<size_t>(b.count) * n_slices(b, M, N, K) * M * N;
}

void batched_qmm(int dt, const AffineWeight& w, const QBatch& b, const void* x, void* out, float* workspace,
                 int64_t M, int64_t N, int64_t K, cudaStream_t st) {
  if (M == 0 || N == 0 || b.count == 0) return;
  if (M > 0x7fffffff || N > 0x7fffffff || K > 0x7fffffff) {
    throw std::invalid_argument("[quantized_matmul] matrix too large.");
  }
  if (K == 0) {
    TESSERA_CUDA_CHECK(cudaMemsetAsync(out, 0, static_cast<size_t>(b.count * M * N) * (dt == dt_f32 ? 4 : 2), st));
    return;
  }
  const int m = static_cast<int>(M), n = static_cast<int>(N), k = static_cast<int>(K);
  bool bits_ok = false;
  const bool ok = dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    auto xp = static_cast<const T*>(x);
    auto sp = static_cast<const T*>(w.scales);
    auto bp = static_cast<const T*>(w.biases);
    bits_ok = dispatch_bits(w.bits, [&](auto bb) {
      constexpr int bits = decltype(bb)::value;
      dispatch_tile(M, [&](auto mr) {
        constexpr int MR = decltype(mr)::value;
        if (w.transpose) {
          int lpr = 1;
          while (lpr < 32 && lpr < k / 32) lpr *= 2;
          const int rows_per_block = kTThreads / lpr;
          dim3 grid(static_cast<unsigned int>((N + rows_per_block - 1) / rows_per_block),
                    grid_dim((M + MR - 1) / MR), grid_dim(b.count));
          bqmv_t_kernel<T, bits, MR><<<grid, kTThreads, 0, st>>>(xp, w.w, sp, bp, static_cast<T*>(out), b, m, n, k,
                                                                 w.group_size, lpr);
          TESSERA_KERNEL_CHECK();
          return;
        }
        if (!workspace) throw std::invalid_argument("[quantized_matmul] missing GPU workspace.");
        const int slices = n_slices(b, M, N, K), kps = (k + slices - 1) / slices, threads = n_threads(N);
        dim3 grid(static_cast<unsigned int>((N + threads - 1) / threads), static_cast<unsigned int>(slices),
                  grid_dim(b.count));
        bqmv_n_kernel<T, bits, MR><<<grid, threads, 0, st>>>(xp, w.w, sp, bp, workspace, b, m, n, k, w.group_size,
                                                             kps);
        TESSERA_KERNEL_CHECK();
        const int64_t total = b.count * M * N;
        sum_slices_kernel<T><<<blocks_for(static_cast<size_t>(total), 256), 256, 0, st>>>(
            workspace, static_cast<T*>(out), total, M * N, slices);
        TESSERA_KERNEL_CHECK();
      });
    });
  });
  if (!ok || !bits_ok) throw std::invalid_argument("[quantized_matmul] unsupported dtype or bits on the GPU.");
}

}  // namespace tessera::cuda
