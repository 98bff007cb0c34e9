// Vectorized access helpers: 16-byte packs of elements, alignment checks, SM-sized grids and
// block-wide sum/max reductions for the row kernels.
#pragma once

#include <cstdint>

#include "tessera/backend/cuda/kernels/common.cuh"

namespace tessera::cuda {

// Elements of T in one 16-byte load/store.
template <typename T>
__host__ __device__ constexpr int pack_of() {
  return sizeof(T) >= 16 ? 1 : 16 / static_cast<int>(sizeof(T));
}

// N elements of T moved as one aligned vector access (sizeof(T) * N bytes, 16 at most per load).
template <typename T, int N>
struct alignas(sizeof(T) * N) Pack {
  T v[N];
};

// True when every pointer is aligned to `bytes` (null pointers are ignored).
inline bool aligned_to(size_t bytes, const void* a, const void* b = nullptr, const void* c = nullptr) {
  auto ok = [bytes](const void* p) { return !p || reinterpret_cast<uintptr_t>(p) % bytes == 0; };
  return ok(a) && ok(b) && ok(c);
}

// Number of multiprocessors of the current device (queried once).
inline int sm_count() {
  static const int n = [] {
    int dev = 0, c = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&c, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess) {
      cudaGetLastError();
      c = 0;
    }
    return c > 0 ? c : 108;
  }();
  return n;
}

// Blocks for a grid-stride loop over `work` items of `threads`-thread blocks: enough to fill the
// device (`per_sm` blocks per multiprocessor) and no more than the work needs.
inline unsigned int grid_for(size_t work, int threads, int per_sm = 8) {
  size_t need = (work + threads - 1) / threads;
  size_t cap = static_cast<size_t>(sm_count()) * per_sm;
  size_t b = need < cap ? need : cap;
  return static_cast<unsigned int>(b == 0 ? 1 : b);
}

// Packs a thread for a register-held row of np packs (0: too long, use the streaming kernel), and
// the block size (a multiple of 32, at most 256) that goes with it.
inline int row_plan(int64_t np, int* threads) {
  for (int ppt : {1, 2, 4, 8}) {
    if (np <= int64_t(256) * ppt) {
      int64_t t = (np + ppt - 1) / ppt;
      *threads = static_cast<int>((t + 31) / 32 * 32);
      return ppt;
    }
  }
  return 0;
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum (or max) of v over the block; every thread gets the result. `shared` holds 32 floats and is
// free again on return. blockDim.x is a multiple of 32.
template <bool Max>
__device__ __forceinline__ float block_all_reduce(float v, float* shared) {
  v = Max ? warp_max(v) : warp_sum(v);
  if (blockDim.x == 32) return v;
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  int nw = blockDim.x / 32;
  v = lane < nw ? shared[lane] : (Max ? -INFINITY : 0.0f);
  v = Max ? warp_max(v) : warp_sum(v);
  __syncthreads();  // shared may be reused by the caller's next reduction
  return v;
}

}  // namespace tessera::cuda
