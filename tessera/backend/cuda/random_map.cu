// CUDA bits -> distribution maps of RandomMap, written operation by operation as the CPU kernel
// (tessera/backend/cpu/random.cpp, which spells its fused multiply-adds with std::fma) so the same
// bits give the same numbers; and the row gather of random permutations.
#include "tessera/backend/cuda/kernels/dtypes.cuh"
#include "tessera/backend/cuda/kernels_random.h"
#include "tessera/backend/cuda/runtime.h"

namespace tessera::cuda {

namespace {

// 32 random bits -> float in [0, 1), as the CPU's unit_float.
__device__ __forceinline__ float unit_float(uint32_t b) {
  return fminf(__fmul_rn(__uint2float_rn(b), 1.0f / 4294967295.0f), 0x1.fffffep-1f);
}

// log of a float as the correctly rounded float (the CPU's glibc logf is within 0.52 ulp of it).
__device__ __forceinline__ float log_f(float x) { return __double2float_rn(log(static_cast<double>(x))); }

// The CPU's erfinv_f (M. Giles' single-precision approximation), fma for fma.
__device__ __forceinline__ float erfinv_f(float a) {
  float t = log_f(fmaf(a, -a, 1.0f));
  float p;
  if (fabsf(t) > 6.125f) {
    p = 3.03697567e-10f;
    p = fmaf(p, t, 2.93243101e-8f);
    p = fmaf(p, t, 1.22150334e-6f);
    p = fmaf(p, t, 2.84108955e-5f);
    p = fmaf(p, t, 3.93552968e-4f);
    p = fmaf(p, t, 3.02698812e-3f);
    p = fmaf(p, t, 4.83185798e-3f);
    p = fmaf(p, t, -2.64646143e-1f);
    p = fmaf(p, t, 8.40016484e-1f);
  } else {
    p = 5.43877832e-9f;
    p = fmaf(p, t, 1.43285448e-7f);
    p = fmaf(p, t, 1.22774793e-6f);
    p = fmaf(p, t, 1.12963626e-7f);
    p = fmaf(p, t, -5.61530760e-5f);
    p = fmaf(p, t, -1.47697632e-4f);
    p = fmaf(p, t, 2.31468678e-3f);
    p = fmaf(p, t, 1.15392581e-2f);
    p = fmaf(p, t, -2.32015476e-1f);
    p = fmaf(p, t, 8.86226892e-1f);
  }
  return __fmul_rn(a, p);
}

// double -> T as the CPU's static_cast<T>(double): 16-bit floats go through float.
template <typename T>
__device__ __forceinline__ T from_double(double v) {
  if constexpr (is_half_v<T>) return from_f<T>(__double2float_rn(v));
  else return static_cast<T>(v);
}
template <typename T>
__device__ __forceinline__ double to_double(T v) {
  if constexpr (is_half_v<T>) return static_cast<double>(to_f(v));
  else return static_cast<double>(v);
}

// The largest value of T below v (the CPU's prev_value).
template <typename T>
__device__ __forceinline__ T prev_value(T v) {
  if constexpr (is_half_v<T>) {
    float f = to_f(v);
    unsigned short b;
    memcpy(&b, &v, 2);
    b = f > 0.0f ? static_cast<unsigned short>(b - 1) : (f == 0.0f ? 0x8001 : static_cast<unsigned short>(b + 1));
    T r;
    memcpy(&r, &b, 2);
    return r;
  } else if constexpr (std::is_same_v<T, float>) {
    return nextafterf(v, -INFINITY);
  } else {
    return nextafter(v, -static_cast<double>(INFINITY));
  }
}

template <typename T>
__global__ void random_float_kernel(RandomMapArgs a, T* out, Strided s, int64_t n) {
  const float tiny = 1.17549435e-38f;  // FLT_MIN
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    float uf = unit_float(a.bits[i]);
    T r;
    switch (a.kind) {
      case rm_uniform: {
        double l = a.p0[strided_offset(s, 0, i)], h = a.p1[strided_offset(s, 1, i)];
        T v = from_double<T>(fma(__dsub_rn(h, l), static_cast<double>(uf), l));
        T th = from_double<T>(h);
        if (to_double(v) >= to_double(th) && to_double(th) > to_double(from_double<T>(l))) v = prev_value(th);
        r = v;
        break;
      }
      case rm_normal: {
        const float lo = -0x1.fffffep-1f;  // nextafter(-1, 0)
        float u = fmaf(__fsub_rn(1.0f, lo), uf, lo);
        r = from_double<T>(fmaf(__fmul_rn(sqrtf(2.0f), erfinv_f(u)), a.scale, a.loc));
        break;
      }
      case rm_truncated_normal: {
        double l = a.p0[strided_offset(s, 0, i)], h = a.p1[strided_offset(s, 1, i)];
        const double sq2 = sqrt(2.0);
        double ea = erf(__ddiv_rn(l, sq2)), ec = erf(__ddiv_rn(h, sq2));
        double u = fma(__dsub_rn(ec, ea), static_cast<double>(uf), ea);
        double x = __dmul_rn(sq2, static_cast<double>(erfinv_f(__double2float_rn(u))));
        double lo = fmin(l, h), hi = fmax(l, h);
        r = from_double<T>(x < lo ? lo : (x > hi ? hi : x));
        break;
      }
      default: {  // gumbel
        float u = fmaf(__fsub_rn(1.0f, tiny), uf, tiny);
        r = from_double<T>(-log_f(-log_f(u)));
        break;
      }
    }
    out[i] = r;
  }
}

__global__ void bernoulli_kernel(RandomMapArgs a, bool* out, Strided s, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    out[i] = static_cast<double>(unit_float(a.bits[i])) < a.p0[strided_offset(s, 0, i)];
  }
}

template <typename T>
__global__ void randint_kernel(RandomMapArgs a, T* out, Strided s, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    double l = ceil(a.p0[strided_offset(s, 0, i)]), h = ceil(a.p1[strided_offset(s, 1, i)]);
    double frac = __dmul_rn(static_cast<double>(a.bits[i]), 0x1p-32);
    double r = __dadd_rn(l, floor(__dmul_rn(__dsub_rn(h, l), frac)));
    r = fmax(l, fmin(r, __dsub_rn(h, 1.0)));
    if constexpr (std::is_same_v<T, bool>) out[i] = r != 0.0;
    else out[i] = static_cast<T>(static_cast<int64_t>(r));
  }
}

template <typename E>
__global__ void permute_kernel(const E* x, const uint32_t* order, E* out, int64_t outer, int64_t n, int64_t inner,
                               int64_t total) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    int64_t j = e % inner, r = e / inner;
    int64_t i = r % n, o = r / n;
    out[e] = x[(o * n + order[i]) * inner + j];
  }
}

}  // namespace

bool random_map_supported(int kind, int out_dt) {
  if (kind == rm_bernoulli) return out_dt == dt_bool;
  if (kind == rm_randint) return is_int_dt(out_dt) || out_dt == dt_bool;
  return is_float_dt(out_dt);
}

void random_map(const RandomMapArgs& a, void* out, const Strided& s, size_t n, cudaStream_t st) {
  if (n == 0) return;
  auto nn = static_cast<int64_t>(n);
  unsigned int blocks = blocks_for(n, 256);
  if (a.kind == rm_bernoulli) {
    bernoulli_kernel<<<blocks, 256, 0, st>>>(a, static_cast<bool*>(out), s, nn);
    TESSERA_CUDA_LAUNCH_CHECK();
    return;
  }
  dispatch_real(a.out_dt, [&](auto t) {
    using T = decltype(t);
    if (a.kind == rm_randint) {
      if constexpr (!is_float_v<T>) {
        randint_kernel<T><<<blocks, 256, 0, st>>>(a, static_cast<T*>(out), s, nn);
        TESSERA_CUDA_LAUNCH_CHECK();
      }
    } else if constexpr (is_float_v<T>) {
      random_float_kernel<T><<<blocks, 256, 0, st>>>(a, static_cast<T*>(out), s, nn);
      TESSERA_CUDA_LAUNCH_CHECK();
    }
  });
}

void permute_rows(const void* x, const uint32_t* order, void* out, size_t outer, size_t n, size_t inner_bytes,
                  cudaStream_t st) {
  size_t total_bytes = outer * n * inner_bytes;
  if (total_bytes == 0) return;
  int elem = 8;  // the widest word dividing the row and both pointers' alignment
  while (elem > 1 && (inner_bytes % elem || reinterpret_cast<uintptr_t>(x) % elem ||
                      reinterpret_cast<uintptr_t>(out) % elem)) {
    elem /= 2;
  }
  dispatch_size(elem, [&](auto t) {
    using E = decltype(t);
    auto inner = static_cast<int64_t>(inner_bytes / sizeof(E));
    auto total = static_cast<int64_t>(total_bytes / sizeof(E));
    permute_kernel<E><<<blocks_for(static_cast<size_t>(total), 256), 256, 0, st>>>(
        static_cast<const E*>(x), order, static_cast<E*>(out), static_cast<int64_t>(outer), static_cast<int64_t>(n),
        inner, total);
    TESSERA_CUDA_LAUNCH_CHECK();
  });
}

}  // namespace tessera::cuda
