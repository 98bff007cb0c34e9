// CUDA scans: rows (inner == 1) scan with one 256-thread block per row (CUB BlockScan over tiles
// with a running carry); other layouts scan each (outer, inner) column in one thread, reading
// coalesced across inner. Max/min propagate NaN like the CPU backend. complex64: sum and prod.
#include <cub/block/block_scan.cuh>

#include <limits>

#include "tessera/backend/cuda/kernels/dtypes.cuh"
#include "tessera/backend/cuda/kernels_scan.h"
#include "tessera/backend/cuda/runtime.h"

namespace tessera::cuda {

namespace {

// complex64 element (interleaved real, imaginary) with the two operations its scans use.
struct cfloat {
  float re, im;
  __host__ __device__ cfloat(float r = 0.0f, float i = 0.0f) : re(r), im(i) {}
};
__device__ __forceinline__ cfloat operator+(const cfloat& a, const cfloat& b) { return {a.re + b.re, a.im + b.im}; }
__device__ __forceinline__ cfloat operator*(const cfloat& a, const cfloat& b) {
  return {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re};
}

template <typename A>
struct ScanFn {
  int op;
  __device__ __forceinline__ A operator()(const A& a, const A& x) const {
    if constexpr (std::is_same_v<A, cfloat>) {
      return op == scan_prod ? a * x : a + x;
    } else {
      switch (op) {
        case scan_sum: return A(a + x);
        case scan_prod: return A(a * x);
        case scan_max: return (x > a || x != x) ? x : a;
        default: return (x < a || x != x) ? x : a;
      }
    }
  }
};

template <typename A>
A scan_init(int op) {
  if (op == scan_sum) return A(0);
  if (op == scan_prod) return A(1);
  if constexpr (std::is_same_v<A, cfloat>) {
    return A(0);  // never reached: complex64 scans are sums and products
  } else if constexpr (std::numeric_limits<A>::has_infinity) {
    return op == scan_max ? -std::numeric_limits<A>::infinity() : std::numeric_limits<A>::infinity();
  } else {
    return op == scan_max ? std::numeric_limits<A>::lowest() : std::numeric_limits<A>::max();
  }
}

constexpr int kScanThreads = 256;

template <typename T>
__global__ void scan_rows_kernel(ScanFn<acc_of<T>> fn, acc_of<T> init, const T* in, T* out, int64_t n, bool reverse,
                                 bool inclusive) {
  using A = acc_of<T>;
  using BlockScan = cub::BlockScan<A, kScanThreads>;
  __shared__ typename BlockScan::TempStorage temp;
  const T* s = in + blockIdx.x * n;
  T* d = out + blockIdx.x * n;
  A carry = init;
  for (int64_t t0 = 0; t0 < n; t0 += kScanThreads) {
    int64_t j = t0 + threadIdx.x;
    int64_t p = reverse ? n - 1 - j : j;
    A x = j < n ? to_acc(s[p]) : init;
    A y, agg;
    if (inclusive) BlockScan(temp).InclusiveScan(x, y, fn, agg);
    else BlockScan(temp).ExclusiveScan(x, y, init, fn, agg);
    if (j < n) d[p] = from_acc<T>(fn(carry, y));
    carry = fn(carry, agg);
    __syncthreads();  // temp is reused by the next tile
  }
}

template <typename T>
__global__ void scan_cols_kernel(ScanFn<acc_of<T>> fn, acc_of<T> init, const T* in, T* out, int64_t outer, int64_t n,
                                 int64_t inner, bool reverse, bool inclusive) {
  using A = acc_of<T>;
  int64_t cols = outer * inner;
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < cols; c += int64_t(gridDim.x) * blockDim.x) {
    int64_t o = c / inner, i = c % inner;
    const T* s = in + o * n * inner + i;
    T* d = out + o * n * inner + i;
    A acc = init;
    for (int64_t j = 0; j < n; ++j) {
      int64_t p = (reverse ? n - 1 - j : j) * inner;
      A x = to_acc(s[p]);
      if (inclusive) {
        acc = fn(acc, x);
        d[p] = from_acc<T>(acc);
      } else {
        d[p] = from_acc<T>(acc);
        acc = fn(acc, x);
      }
    }
  }
}

// Every real dtype (bool and 8/16-bit integers scan in their own type: the CPU's wrap-around), and
// complex64.
template <typename F>
bool dispatch_scan(int dt, F&& f) {
  if (dt == dtx_c64) {
    f(cfloat{});
    return true;
  }
  return dispatch_real(dt, f);
}

}  // namespace

bool scan_supported(int op, int dt) {
  if (dt == dtx_c64) return op == scan_sum || op == scan_prod;
  if (dt == dt_bool) return op == scan_max || op == scan_min;  // cumsum/cumprod of bool scan int32
  return op >= scan_sum && op <= scan_min && is_real_dt(dt);
}

void scan(int op, int dt, const void* in, void* out, size_t outer, size_t n, size_t inner, bool reverse,
          bool inclusive, cudaStream_t st) {
  if (outer * n * inner == 0) return;
  dispatch_scan(dt, [&](auto t) {
    using T = decltype(t);
    using A = acc_of<T>;
    ScanFn<A> fn{op};
    A init = scan_init<A>(op);
    auto s = static_cast<const T*>(in);
    auto d = static_cast<T*>(out);
    if (inner == 1 && outer <= 0x7fffffffu) {
      scan_rows_kernel<T><<<static_cast<unsigned int>(outer), kScanThreads, 0, st>>>(fn, init, s, d, n, reverse,
                                                                                     inclusive);
    } else {
      scan_cols_kernel<T><<<blocks_for(outer * inner, 256), 256, 0, st>>>(fn, init, s, d, outer, n, inner, reverse,
                                                                          inclusive);
    }
    TESSERA_CUDA_LAUNCH_CHECK();
  });
}

}  // namespace tessera::cuda
