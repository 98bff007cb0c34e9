// Few-row 16-bit GEMV on tensor cores: a block of kWarps warps owns 16 rows of W and splits K
// between its warps; each lane streams 16-byte pieces of two W rows and of x, used as m16n8k16 MMA
// fragments under one permutation of k (dot products do not depend on the order of k), with U
// steps of loads in flight; the warps' partial sums meet in shared memory.
#include "tessera/backend/cuda/gemv_bf16.h"

#include "tessera/backend/cuda/kernels/mma.cuh"
#include "tessera/backend/cuda/kernels/vec.cuh"

namespace tessera::cuda {

namespace {

constexpr int kWarps = 4;  // warps splitting K in a block (one 16-row tile of W per block)
constexpr int kSteps = 4;  // 32-column steps a lane has in flight

__device__ __forceinline__ uint4 load16_stream(const void* p) { return __ldcs(static_cast<const uint4*>(p)); }
__device__ __forceinline__ uint4 load16(const void* p) { return __ldg(static_cast<const uint4*>(p)); }

// out (M, N) = x (M, K) @ W (N, K)^T; NT n8 tiles of x rows (M <= 8 NT). Lane (g = lane / 4,
// t = lane % 4) of a step at column k0 loads W rows n0 + g and n0 + g + 8 and x rows g (+ 8) at
// k0 + 8t .. 8t + 7: the first MMA takes elements 0-3 of each (k slots 2t, 2t+1, 2t+8, 2t+9 of
// the A/B fragments), the second elements 4-7.
template <typename T, int NT>
__global__ void __launch_bounds__(kWarps * 32) gemv_mma_kernel(const T* x, int64_t ldx, const T* w, int64_t ldw,
                                                                T* out, int M, int N, int K) {
  __shared__ float red[kWarps][32][4 * NT + 1];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int n0 = blockIdx.x * 16;
  const T* w0 = w + int64_t(min(n0 + g, N - 1)) * ldw;
  const T* w1 = w + int64_t(min(n0 + g + 8, N - 1)) * ldw;
  const T* xr[NT];
  bool xv[NT];
#pragma unroll
  for (int j = 0; j < NT; ++j) {
    int m = g + 8 * j;
    xv[j] = m < M;
    xr[j] = x + int64_t(min(m, M - 1)) * ldx;
  }
  float c[NT][4];
#pragma unroll
  for (int j = 0; j < NT; ++j) c[j][0] = c[j][1] = c[j][2] = c[j][3] = 0.0f;
  const int steps = (K + 31) / 32;
  const uint4 zero = make_uint4(0, 0, 0, 0);
  for (int s0 = warp; s0 < steps; s0 += kWarps * kSteps) {
    uint4 a0[kSteps], a1[kSteps], b[kSteps][NT];
#pragma unroll
    for (int u = 0; u < kSteps; ++u) {
      int k = (s0 + u * kWarps) * 32 + t * 8;
      bool ok = k < K;  // K % 8 == 0: a lane's 8 columns are all inside or all outside
      a0[u] = ok ? load16_stream(w0 + k) : zero;
      a1[u] = ok ? load16_stream(w1 + k) : zero;
#pragma unroll
      for (int j = 0; j < NT; ++j) b[u][j] = ok && xv[j] ? load16(xr[j] + k) : zero;
    }
#pragma unroll
    for (int u = 0; u < kSteps; ++u) {
      const uint32_t lo[4] = {a0[u].x, a1[u].x, a0[u].y, a1[u].y};
      const uint32_t hi[4] = {a0[u].z, a1[u].z, a0[u].w, a1[u].w};
#pragma unroll
      for (int j = 0; j < NT; ++j) {
        mma_16816<T>(c[j], lo, b[u][j].x, b[u][j].y);
        mma_16816<T>(c[j], hi, b[u][j].z, b[u][j].w);
      }
    }
  }
  // C fragment: c[j][i] is W row n0 + g (+8 for i >= 2), x row 8j + 2t + (i & 1).
#pragma unroll
  for (int j = 0; j < NT; ++j)
#pragma unroll
    for (int i = 0; i < 4; ++i) red[warp][lane][4 * j + i] = c[j][i];
  __syncthreads();
  if (warp != 0) return;
#pragma unroll
  for (int j = 0; j < NT; ++j) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      float v = 0.0f;
#pragma unroll
      for (int q = 0; q < kWarps; ++q) v += red[q][lane][4 * j + i];
      int n = n0 + g + (i >= 2 ? 8 : 0), m = 8 * j + 2 * t + (i & 1);
      if (n < N && m < M) out[int64_t(m) * N + n] = from_f<T>(v);
    }
  }
}

}  // namespace

bool gemv_half_supported(int dt, int64_t M, int64_t N, int64_t K, const void* x, int64_t ldx, const void* w,
                         int64_t ldw, const void* out) {
  return (dt == dt_bf16 || dt == dt_f16) && M >= 1 && M <= 16 && N >= 1 && K >= 8 && K % 8 == 0 &&
         (M == 1 || ldx % 8 == 0) && (N == 1 || ldw % 8 == 0) && N < (int64_t(1) << 30) &&
         K < (int64_t(1) << 30) && aligned_to(16, x, w, out);
}

void gemv_half(int dt, const void* x, int64_t ldx, const void* w, int64_t ldw, void* out, int64_t M, int64_t N,
               int64_t K, cudaStream_t st) {
  if (M == 0 || N == 0) return;
  unsigned blocks = static_cast<unsigned>((N + 15) / 16);
  auto go = [&](auto tag) {
    using T = decltype(tag);
    auto xp = static_cast<const T*>(x);
    auto wp = static_cast<const T*>(w);
    auto op = static_cast<T*>(out);
    int m = static_cast<int>(M), n = static_cast<int>(N), k = static_cast<int>(K);
    if (M <= 8) {
      gemv_mma_kernel<T, 1><<<blocks, kWarps * 32, 0, st>>>(xp, ldx, wp, ldw, op, m, n, k);
    } else {
      gemv_mma_kernel<T, 2><<<blocks, kWarps * 32, 0, st>>>(xp, ldx, wp, ldw, op, m, n, k);
    }
  };
  if (dt == dt_bf16) go(__nv_bfloat16{});
  else go(__half{});
  TESSERA_KERNEL_CHECK();
}

}  // namespace tessera::cuda
