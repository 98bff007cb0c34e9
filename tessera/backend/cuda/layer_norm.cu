// CUDA layer_norm: one 256-thread block per row; mean, then the centered second moment (two-pass,
// like the CPU), both reduced with CUB BlockReduce in float; then the normalized, scaled write.
#include <cub/block/block_reduce.cuh>

#include "tessera/backend/cuda/kernels/dtypes.cuh"
#include "tessera/backend/cuda/kernels_layer_norm.h"
#include "tessera/backend/cuda/runtime.h"

namespace tessera::cuda {

namespace {

constexpr int kLnThreads = 256;

template <typename T>
__global__ void layer_norm_kernel(const T* x, const float* w, const float* b, T* out, int d, float eps) {
  using Reduce = cub::BlockReduce<float, kLnThreads>;
  __shared__ typename Reduce::TempStorage temp;
  __shared__ float s_mean, s_rstd;
  const T* xr = x + blockIdx.x * static_cast<int64_t>(d);
  T* yr = out + blockIdx.x * static_cast<int64_t>(d);
  float s = 0.0f;
  for (int i = threadIdx.x; i < d; i += kLnThreads) s += to_f(xr[i]);
  float tot = Reduce(temp).Sum(s);
  if (threadIdx.x == 0) s_mean = tot / static_cast<float>(d);
  __syncthreads();
  float mean = s_mean;
  float q = 0.0f;
  for (int i = threadIdx.x; i < d; i += kLnThreads) {
    float c = to_f(xr[i]) - mean;
    q += c * c;
  }
  float var = Reduce(temp).Sum(q);
  if (threadIdx.x == 0) s_rstd = 1.0f / sqrtf(var / static_cast<float>(d) + eps);
  __syncthreads();
  float r = s_rstd;
  for (int i = threadIdx.x; i < d; i += kLnThreads) {
    float y = (to_f(xr[i]) - mean) * r;
    if (w) y *= w[i];
    if (b) y += b[i];
    yr[i] = from_f<T>(y);
  }
}

}  // namespace

void layer_norm(int dt, const void* x, const float* w, const float* b, void* out, size_t rows, int d, float eps,
                cudaStream_t st) {
  if (rows == 0 || d == 0) return;
  dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    layer_norm_kernel<T><<<static_cast<unsigned int>(rows), kLnThreads, 0, st>>>(
        static_cast<const T*>(x), w, b, static_cast<T*>(out), d, eps);
    TESSERA_CUDA_LAUNCH_CHECK();
  });
}

}  // namespace tessera::cuda
