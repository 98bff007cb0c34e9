// Packed-f16 affine GEMV of W (N, K) for one row of f16/bf16 x, bits 4/8 ("h2", TESSERA_QGEMV=h2):
// two weights per LOP3 + packed subtract, two products per packed FMA, f16 sums per 32-value chunk.
#include <cstdint>

#include "tessera/backend/cuda/kernels/qgemv_index.h"
#include "tessera/backend/cuda/kernels/quantized.cuh"
#include "tessera/env.h"

namespace tessera::cuda::q {

namespace {

// The float32 kernels (lop3) spend 4.4 instructions a weight: at 4 bits that is the whole issue rate
// of an H100 at its memory bandwidth. Here a weight costs about 2: one LOP3 puts two 4-bit (or
// 8-bit) fields into the mantissas of an f16 pair of 1024, one packed subtract (or FMA, for fields
// 4 bits up) leaves q exactly, one packed FMA multiplies a pair by x.
//
// Precision: each 32-value chunk of x is staged in shared memory as f16 scaled by its own power of
// two 2^k (its max |x| in [32, 64) for 4 bits, [2, 4) for 8 bits), exact for bf16/f16 x; products
// and the sums of a chunk are rounded to f16 (chunk sums stay below 2^15), then leave f16: scale,
// 2^-k and bias apply in float32 (sum_j (s q_j + b) x_j = s sum q_j x_j + b sum x_j, with sum x_j
// from the unscaled x).
//
// Layout: a block of kHWarps warps; warp w owns R rows of W; lane l takes chunks l, l + 32, ...
// (U steps of 16-byte loads per row in flight). The first step's weights are loaded before x is
// staged, and before the previous kernel has finished where the launch is programmatic (PDL):
// griddepcontrol.wait then holds the block until x is written.
using qidx::H2Shape;
using qidx::kHWarps;

constexpr int kStage = 2;  // x units (16-byte loads) in flight per thread while staging

// Waits until the grid this one depends on programmatically has completed and its writes are
// visible (returns at once for a normal launch).
__device__ __forceinline__ void grid_dependency_wait() { asm volatile("griddepcontrol.wait;" ::: "memory"); }

__device__ __forceinline__ __half2 as_h2(uint32_t v) { return *reinterpret_cast<__half2*>(&v); }

// The four q pairs of one 8-value unit (pair p meets staged x pair p; see qidx::h2_half_value).
template <int bits>
__device__ __forceinline__ void unit_pairs(const uint32_t* w, __half2 (&q)[4]) {
  constexpr uint32_t kMagic = 0x64006400u;  // f16 1024 twice: fields below bit 10 are integers
  const __half2 k1024 = __half2half2(__ushort_as_half(0x6400));
  if constexpr (bits == 4) {
    const __half2 k16th = __half2half2(__ushort_as_half(0x2C00)), km64 = __half2half2(__ushort_as_half(0xD400));
    const uint32_t w8 = w[0] >> 8;
    q[0] = __hsub2(as_h2(and_or(w[0], 0x000F000Fu, kMagic)), k1024);          // values 0, 4
    q[1] = __hfma2(as_h2(and_or(w[0], 0x00F000F0u, kMagic)), k16th, km64);   // 1, 5: (1024 + 16 q) / 16 - 64
    q[2] = __hsub2(as_h2(and_or(w8, 0x000F000Fu, kMagic)), k1024);            // 2, 6
    q[3] = __hfma2(as_h2(and_or(w8, 0x00F000F0u, kMagic)), k16th, km64);     // 3, 7
  } else {
    q[0] = __hsub2(as_h2(and_or(w[0], 0x00FF00FFu, kMagic)), k1024);       // values 0, 2
    q[1] = __hsub2(as_h2(and_or(w[0] >> 8, 0x00FF00FFu, kMagic)), k1024);  // 1, 3
    q[2] = __hsub2(as_h2(and_or(w[1], 0x00FF00FFu, kMagic)), k1024);       // 4, 6
    q[3] = __hsub2(as_h2(and_or(w[1] >> 8, 0x00FF00FFu, kMagic)), k1024);  // 5, 7
  }
}

// Registers bounded for 2 blocks an SM (3 spill at 4 bits and measured slower: H100, 2026-11-26).
template <typename T, int bits>
__global__ void __launch_bounds__(kHWarps * 32, 2) qmv_h2_kernel(const T* __restrict__ x, const uint32_t* __restrict__ wq,
                                                              const T* __restrict__ scales,
                                                              const T* __restrict__ biases, T* __restrict__ out, int N,
                                                              int K, int gshift) {
  constexpr int R = H2Shape<bits>::R, U = H2Shape<bits>::U;
  extern __shared__ uint4 staged[];  // (nchunks * 4) units of 8 f16 x values, then 2 nchunks floats
  const int nchunks = K / 32;
  float* xsum = reinterpret_cast<float*>(staged + nchunks * 4);  // sum of each chunk's x (unscaled)
  float* xinv = xsum + nchunks;                                   // 2^-k of each chunk's scale 2^k
  const int lane = threadIdx.x & 31, wk = threadIdx.x >> 5;
  const int n0 = qidx::h2_row0(blockIdx.x, wk, R);
  const int64_t row_words = static_cast<int64_t>(nchunks) * bits;
  const int G = K >> (gshift + 5);
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
  uint32_t w[U][R][bits];
  T sc[U][R], bi[U][R];
  auto load_step = [&](int i0) {
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int c = qidx::h2_chunk(i0 + u, lane);
      if (c < nchunks) {
        const int g = c >> gshift;
#pragma unroll
        for (int r = 0; r < R; ++r) {
          load_chunk<bits>(wrow[r] + static_cast<int64_t>(c) * bits, w[u][r]);
          sc[u][r] = __ldg(srow[r] + g);
          bi[u][r] = __ldg(brow[r] + g);
        }
      }
    }
  };
  load_step(0);
  grid_dependency_wait();  // x is the previous kernel's output (programmatic launch: see launch_h2)

  // Stage x: thread t takes 8-value units t, t + blockDim, ... (kStage in flight); the 4 threads of
  // a chunk share its sum and max |x| by shuffles; the chunk is scaled by its own power of two.
  const int nunits = nchunks * 4;
  for (int e0 = threadIdx.x; e0 - static_cast<int>(threadIdx.x) < nunits; e0 += kStage * blockDim.x) {
    uint4 raw[kStage];  // 8 f16/bf16 values each
#pragma unroll
    for (int s = 0; s < kStage; ++s) {
      const int e = e0 + s * blockDim.x;
      raw[s] = e < nunits ? __ldg(reinterpret_cast<const uint4*>(x) + e) : make_uint4(0, 0, 0, 0);
    }
#pragma unroll
    for (int s = 0; s < kStage; ++s) {
      const int e = e0 + s * blockDim.x;
      float v[8];
      const T* t = reinterpret_cast<const T*>(&raw[s]);
#pragma unroll
      for (int j = 0; j < 8; ++j) v[j] = to_f(t[j]);
      float sum = 0.0f, mx = 0.0f;
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        sum += v[j];
        mx = fmaxf(mx, fabsf(v[j]));
      }
#pragma unroll
      for (int off = 1; off < 4; off <<= 1) {  // the chunk's 4 units: lanes 4i .. 4i + 3
        sum += __shfl_xor_sync(0xffffffffu, sum, off);
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
      }
      if (e < nunits) {
        // mx = m 2^ex, m in [0.5, 1), from the exponent bits (subnormal mx: ex -126, k clamped);
        // mx 0, inf or NaN: k 0. 2^k and 2^-k built from their exponent bits (|k| <= 120).
        const uint32_t mb = __float_as_uint(mx);
        const int k = mb - 1u < 0x7F7FFFFFu ? qidx::h2_scale_shift(bits, static_cast<int>(mb >> 23) - 126) : 0;
        const float f = __uint_as_float(static_cast<uint32_t>(127 + k) << 23);
        const int c = e >> 2;
        if ((e & 3) == 0) {
          xsum[c] = sum;
          xinv[c] = __uint_as_float(static_cast<uint32_t>(127 - k) << 23);
        }
        __align__(16) __half h[8];
#pragma unroll
        for (int j = 0; j < 8; ++j) h[j] = __float2half_rn(v[qidx::h2_half_value(bits, j)] * f);
        staged[qidx::h2_unit_slot(c, e & 3)] = *reinterpret_cast<const uint4*>(h);
      }
    }
  }
  __syncthreads();

  float fa[R] = {}, fb[R] = {};  // s * sum q x (unscaled per chunk), b * sum x
  const int steps = (nchunks + 31) / 32;
  for (int i0 = 0; i0 < steps; i0 += U) {
    if (i0 > 0) load_step(i0);
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int c = qidx::h2_chunk(i0 + u, lane);
      if (c < nchunks) {
        uint4 xv[4];
#pragma unroll
        for (int un = 0; un < 4; ++un) xv[un] = staged[qidx::h2_unit_slot(c, un)];
        const float xs = xsum[c], inv = xinv[c];
#pragma unroll
        for (int r = 0; r < R; ++r) {
          __half2 acc[4];
#pragma unroll
          for (int un = 0; un < 4; ++un) {
            __half2 q[4];
            unit_pairs<bits>(&w[u][r][un * (bits / 4)], q);
            const uint32_t xw[4] = {xv[un].x, xv[un].y, xv[un].z, xv[un].w};
#pragma unroll
            for (int p = 0; p < 4; ++p) acc[p] = un == 0 ? __hmul2(q[p], as_h2(xw[p])) : __hfma2(q[p], as_h2(xw[p]), acc[p]);
          }
          const float2 d = __half22float2(__hadd2(__hadd2(acc[0], acc[1]), __hadd2(acc[2], acc[3])));
          fa[r] = fmaf(to_f(sc[u][r]) * inv, d.x + d.y, fa[r]);
          fb[r] = fmaf(to_f(bi[u][r]), xs, fb[r]);
        }
      }
    }
  }

#pragma unroll
  for (int r = 0; r < R; ++r) {
    float v = fa[r] + fb[r];
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
    if (lane == 0 && n0 + r < N) out[n0 + r] = from_f<T>(v);
  }
}

// Without opting in, a block gets 48 KiB of shared memory: K up to 23130 (longer rows take lop3).
constexpr int64_t kH2MaxSharedBytes = 48 * 1024;

}  // namespace

bool launch_h2(int dt, const AffineWeight& wt, const void* x, void* out, int M, int N, int K, cudaStream_t st) {
  const int gshift = qidx::lop_group_shift(wt.group_size);
  const int64_t smem = static_cast<int64_t>(qidx::h2_smem_bytes(K));
  if (M != 1 || (wt.bits != 4 && wt.bits != 8) || gshift < 0 || (dt != dt_f16 && dt != dt_bf16) ||
      smem > kH2MaxSharedBytes) {
    return false;
  }
  constexpr int rows_per_block = kHWarps * 2;
  static_assert(H2Shape<4>::R == 2 && H2Shape<8>::R == 2, "rows_per_block assumes R = 2");
  const auto blocks = static_cast<unsigned int>((static_cast<int64_t>(N) + rows_per_block - 1) / rows_per_block);
  // Programmatic dependent launch: the blocks may start while the previous kernel of the stream
  // finishes, loading their first weights; they wait for x (griddepcontrol.wait) before reading it.
  // Captured into a CUDA graph, the dependency becomes a programmatic edge. TESSERA_PDL=0: off.
  static const bool pdl = env_switch_on("TESSERA_PDL");
  cudaLaunchAttribute attr{};
  attr.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = dim3(blocks);
  cfg.blockDim = dim3(kHWarps * 32);
  cfg.dynamicSmemBytes = static_cast<size_t>(smem);
  cfg.stream = st;
  cfg.attrs = pdl ? &attr : nullptr;
  cfg.numAttrs = pdl ? 1 : 0;
  return dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    if constexpr (!std::is_same_v<T, float>) {
      auto run = [&](auto b) {
        constexpr int bits = decltype(b)::value;
        check_call(cudaLaunchKernelEx(&cfg, qmv_h2_kernel<T, bits>, static_cast<const T*>(x), wt.w, static_cast<const T*>(wt.scales),
                                      static_cast<const T*>(wt.biases), static_cast<T*>(out), N, K, gshift),
                   "qmv_h2_kernel launch");
      };
      if (wt.bits == 4) {
        run(std::integral_constant<int, 4>{});
      } else {
        run(std::integral_constant<int, 8>{});
      }
    }
  });
}

}  // namespace tessera::cuda::q
