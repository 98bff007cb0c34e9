// CUDA row kernels: one 256-thread block per row with CUB BlockReduce (variance in double, two
// passes; logsumexp in float/double stabilized by the row max, NaN/inf rows give the max as the
// CPU does), and an elementwise triangular mask.
#include <cub/block/block_reduce.cuh>

#include <cmath>

#include "tessera/backend/cuda/kernels/dtypes.cuh"
#include "tessera/backend/cuda/kernels_rows.h"
#include "tessera/backend/cuda/runtime.h"

namespace tessera::cuda {

namespace {

constexpr int kRowThreads = 256;

template <typename T>
__device__ __forceinline__ double to_d(T v) {
  return static_cast<double>(to_acc(v));
}

template <typename T>
__global__ void variance_kernel(const T* in, T* out, int64_t n, double denom, bool take_sqrt) {
  using Reduce = cub::BlockReduce<double, kRowThreads>;
  __shared__ typename Reduce::TempStorage temp;
  __shared__ double s_mean;
  const T* p = in + blockIdx.x * n;
  double s = 0;
  for (int64_t i = threadIdx.x; i < n; i += kRowThreads) s += to_d(p[i]);
  double tot = Reduce(temp).Sum(s);
  if (threadIdx.x == 0) s_mean = tot / static_cast<double>(n);
  __syncthreads();
  double m = s_mean, q = 0;
  for (int64_t i = threadIdx.x; i < n; i += kRowThreads) {
    double d = to_d(p[i]) - m;
    q += d * d;
  }
  double ss = Reduce(temp).Sum(q);
  if (threadIdx.x == 0) {
    double v = ss / denom;
    out[blockIdx.x] = from_acc<T>(static_cast<acc_of<T>>(take_sqrt ? sqrt(v) : v));
  }
}

struct NanMax {
  template <typename A>
  __device__ __forceinline__ A operator()(const A& a, const A& b) const {
    return (b > a || b != b) ? b : a;
  }
};

template <typename T>
__global__ void logsumexp_kernel(const T* in, T* out, int64_t n) {
  using A = acc_of<T>;
  using Reduce = cub::BlockReduce<A, kRowThreads>;
  __shared__ typename Reduce::TempStorage temp;
  __shared__ A s_max;
  const T* p = in + blockIdx.x * n;
  A m = -INFINITY;
  for (int64_t i = threadIdx.x; i < n; i += kRowThreads) m = NanMax{}(m, to_acc(p[i]));
  A mx = Reduce(temp).Reduce(m, NanMax{});
  if (threadIdx.x == 0) s_max = mx;
  __syncthreads();
  mx = s_max;
  if (!isfinite(mx)) {
    if (threadIdx.x == 0) out[blockIdx.x] = from_acc<T>(mx);
    return;  // uniform across the block: no thread reaches the next barrier
  }
  A s = 0;
  for (int64_t i = threadIdx.x; i < n; i += kRowThreads) s += exp(to_acc(p[i]) - mx);
  A tot = Reduce(temp).Sum(s);
  if (threadIdx.x == 0) out[blockIdx.x] = from_acc<T>(mx + log(tot));
}

template <typename E>
__global__ void tri_mask_kernel(E* data, int64_t total, int64_t m, int64_t n, int k, bool lower) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    int64_t j = e % n, i = (e / n) % m;
    bool zero = lower ? j > i + k : j < i + k;
    if (zero) data[e] = E(0);
  }
}

template <typename F>
bool dispatch_rows(int dt, F&& f) {
  return dispatch_float(dt, f) || (dt == dtx_f64 && (f(double{}), true));
}

}  // namespace

bool rows_supported(int dt) { return is_float_dt(dt); }

void variance(int dt, const void* in, void* out, size_t rows, size_t n, int ddof, bool take_sqrt, cudaStream_t st) {
  if (rows == 0) return;
  double denom = static_cast<double>(n) - ddof;
  if (denom < 0) denom = 0;
  dispatch_rows(dt, [&](auto t) {
    using T = decltype(t);
    variance_kernel<T><<<static_cast<unsigned int>(rows), kRowThreads, 0, st>>>(static_cast<const T*>(in),
                                                                               static_cast<T*>(out), n, denom, take_sqrt);
    TESSERA_CUDA_LAUNCH_CHECK();
  });
}

void logsumexp(int dt, const void* in, void* out, size_t rows, size_t n, cudaStream_t st) {
  if (rows == 0) return;
  dispatch_rows(dt, [&](auto t) {
    using T = decltype(t);
    logsumexp_kernel<T><<<static_cast<unsigned int>(rows), kRowThreads, 0, st>>>(static_cast<const T*>(in),
                                                                                static_cast<T*>(out), n);
    TESSERA_CUDA_LAUNCH_CHECK();
  });
}

void tri_mask(void* data, int elem_size, size_t batch, int64_t m, int64_t n, int k, bool lower, cudaStream_t st) {
  int64_t total = static_cast<int64_t>(batch) * m * n;
  if (total == 0) return;
  auto go = [&](auto t) {
    using E = decltype(t);
    tri_mask_kernel<E><<<blocks_for(total, 256), 256, 0, st>>>(static_cast<E*>(data), total, m, n, k, lower);
    TESSERA_CUDA_LAUNCH_CHECK();
  };
  switch (elem_size) {
    case 1: go(uint8_t{}); break;
    case 2: go(uint16_t{}); break;
    case 4: go(uint32_t{}); break;
    default: go(uint64_t{}); break;
  }
}

}  // namespace tessera::cuda
