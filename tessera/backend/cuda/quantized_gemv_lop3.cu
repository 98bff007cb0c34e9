// Conversion-free affine GEMV of W (N, K) for bits 4/8 ("lop3", TESSERA_QGEMV=lop3): every weight is
// decoded by one LOP3 into the mantissa of 2^23 and one exact FADD, then one FFMA per row of x.
#include <cstdint>

#include "tessera/backend/cuda/kernels/qgemv_index.h"
#include "tessera/backend/cuda/kernels/quantized.cuh"

namespace tessera::cuda::q {

namespace {

// ---- Conversion-free row kernel ("lop3", bits 4/8, every float x) ----
// A block of kLWarps warps owns R rows of W; warp wk takes the chunks qidx::lop_chunk(i, wk, lane)
// (16-byte streaming loads, U steps of R rows in flight). Each weight costs one LOP3 (field into
// the mantissa of 2^23), one FADD (minus 2^23, exact) and one FFMA per row of x: values at position
// p of a half word keep their factor 2^(bits p) and go to partial dot p, scaled once per chunk. The
// x values of a chunk (and their sum, for the biases) are converted once and serve the R rows; the
// group of a chunk is a shift (power-of-two group sizes). Partial sums are added in a fixed order.
using qidx::kLWarps;
using qidx::LopShape;

template <typename T, int bits, int MR>
__global__ void __launch_bounds__(kLWarps * 32) qmv_lop3_kernel(const T* __restrict__ x,
                                                                const uint32_t* __restrict__ wq,
                                                                const T* __restrict__ scales,
                                                                const T* __restrict__ biases, T* __restrict__ out,
                                                                int M, int N, int K, int gshift) {
  constexpr int R = LopShape<MR, bits>::R, U = LopShape<MR, bits>::U;
  constexpr int P = 16 / bits, V = 32 / bits;  // positions per half word, values per word
  __shared__ float red[kLWarps][R * MR];
  const int lane = threadIdx.x & 31, wk = threadIdx.x >> 5;
  const int n0 = qidx::lop_row0(blockIdx.x, R);
  const int64_t row_words = static_cast<int64_t>(K) / 32 * bits;
  const int G = K >> (gshift + 5), nchunks = K / 32;
  const uint32_t* wrow[R];
  const T* srow[R];
  const T* brow[R];
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int64_t n = min(n0 + r, N - 1);  // rows past N read row N - 1 and are not stored
    wrow[r] = wq + n * row_words;
    srow[r] = scales + n * G;
    brow[r] = biases + n * G;
  }
  const T* xr[MR];
  float acc[R][MR] = {};
  tile_rows(x, 0, M, K, xr);

  // Row pointers at the lane's current chunk, advanced by U steps (kLStep chunks each) per batch.
  const int c0 = qidx::lop_chunk(0, wk, lane);
#pragma unroll
  for (int r = 0; r < R; ++r) wrow[r] += static_cast<int64_t>(c0) * bits;
  for (int i0 = 0; qidx::lop_chunk(i0, wk, 0) < nchunks; i0 += U) {  // uniform per warp
    uint32_t w[U][R][bits];
    float sc[U][R], bi[U][R];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int c = qidx::lop_chunk(i0 + u, wk, lane);
      if (c < nchunks) {
        const int g = c >> gshift;
#pragma unroll
        for (int r = 0; r < R; ++r) {
          load_chunk<bits>(wrow[r] + u * qidx::kLStep * bits, w[u][r]);
          sc[u][r] = to_f(__ldg(srow[r] + g));
          bi[u][r] = to_f(__ldg(brow[r] + g));
        }
      }
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int c = qidx::lop_chunk(i0 + u, wk, lane);
      if (c >= nchunks) break;
      float dot[R][MR][P], xs[MR];
#pragma unroll
      for (int m = 0; m < MR; ++m) {
        xs[m] = 0.0f;
#pragma unroll
        for (int r = 0; r < R; ++r)
#pragma unroll
          for (int p = 0; p < P; ++p) dot[r][m][p] = 0.0f;
      }
#pragma unroll
      for (int j8 = 0; j8 < 4; ++j8) {
        float qf[R][8];  // values j8 * 8 + j of the chunk, times 2^(bits (j % P))
#pragma unroll
        for (int r = 0; r < R; ++r) {
#pragma unroll
          for (int j = 0; j < 8; ++j) {
            const int jj = j8 * 8 + j;
            const uint32_t word = w[u][r][jj / V];
            qf[r][j] = field_scaled<bits>(word, word >> 16, jj % V);
          }
        }
#pragma unroll
        for (int m = 0; m < MR; ++m) {
          float xv[8];
          load_x8(xr[m] + c * 32 + j8 * 8, xv);
          xs[m] += ((xv[0] + xv[1]) + (xv[2] + xv[3])) + ((xv[4] + xv[5]) + (xv[6] + xv[7]));
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
          acc[r][m] = fmaf(sc[u][r], d, fmaf(bi[u][r], xs[m], acc[r][m]));
        }
      }
    }
#pragma unroll
    for (int r = 0; r < R; ++r) wrow[r] += U * qidx::kLStep * bits;
  }

  // Warp sums, then the kLWarps warps of the block in a fixed order.
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int m = 0; m < MR; ++m) {
      float v = acc[r][m];
#pragma unroll
      for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
      if (lane == 0) red[wk][r * MR + m] = v;
    }
  __syncthreads();
  if (threadIdx.x < R * MR) {
    const int r = threadIdx.x / MR, m = threadIdx.x % MR;
    float v = 0.0f;
#pragma unroll
    for (int k = 0; k < kLWarps; ++k) v += red[k][threadIdx.x];
    if (n0 + r < N && m < M) out[static_cast<int64_t>(m) * N + n0 + r] = from_f<T>(v);
  }
}

}  // namespace

bool launch_lop3(int dt, const AffineWeight& wt, const void* x, void* out, int M, int N, int K, cudaStream_t st) {
  const int gshift = qidx::lop_group_shift(wt.group_size);
  if ((wt.bits != 4 && wt.bits != 8) || gshift < 0) return false;
  return dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    auto run = [&](auto b) {
      constexpr int bits = decltype(b)::value;
      dispatch_rows(M, [&](auto mr) {
        constexpr int MR = decltype(mr)::value;
        constexpr int R = LopShape<MR, bits>::R;
        const auto blocks = static_cast<unsigned int>((static_cast<int64_t>(N) + R - 1) / R);
        qmv_lop3_kernel<T, bits, MR><<<blocks, kLWarps * 32, 0, st>>>(
            static_cast<const T*>(x), wt.w, static_cast<const T*>(wt.scales), static_cast<const T*>(wt.biases),
            static_cast<T*>(out), M, N, K, gshift);
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

}  // namespace tessera::cuda::q
