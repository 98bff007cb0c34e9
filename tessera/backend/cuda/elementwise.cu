// CUDA elementwise kernels: unary math, binary arithmetic/comparison with broadcast strides, select.
// One kernel per dtype with the op as a uniform run-time switch (memory bound; keeps builds small).
#include "tessera/backend/cuda/kernels/common.cuh"

namespace tessera::cuda {

namespace {

__device__ __forceinline__ float unary_f(int op, float x) {
  switch (op) {
    case u_abs: return fabsf(x);
    case u_neg: return -x;
    case u_square: return x * x;
    case u_exp: return expf(x);
    case u_expm1: return expm1f(x);
    case u_log: return logf(x);
    case u_log1p: return log1pf(x);
    case u_log2: return log2f(x);
    case u_log10: return log10f(x);
    case u_sqrt: return sqrtf(x);
    case u_rsqrt: return rsqrtf(x);
    case u_recip: return 1.0f / x;
    case u_sin: return sinf(x);
    case u_cos: return cosf(x);
    case u_tan: return tanf(x);
    case u_tanh: return tanhf(x);
    case u_sigmoid: {
      float e = expf(-fabsf(x));  // never overflows; small results keep their precision
      return x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
    }
    case u_erf: return erff(x);
    case u_floor: return floorf(x);
    case u_ceil: return ceilf(x);
    case u_sign: return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : (x == 0.0f ? 0.0f : x));
    case u_sinh: return sinhf(x);
    case u_cosh: return coshf(x);
    case u_arctan: return atanf(x);
    default: return x;
  }
}

__device__ __forceinline__ int32_t unary_i(int op, int32_t x) {
  switch (op) {
    case u_abs: return x < 0 ? -x : x;
    case u_neg: return -x;
    case u_square: return x * x;
    case u_sign: return (x > 0) - (x < 0);
    default: return x;
  }
}

template <typename T>
__global__ void unary_kernel(int op, const T* in, T* out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    if constexpr (std::is_same_v<T, int32_t>) {
      out[i] = unary_i(op, in[i]);
    } else {
      out[i] = from_f<T>(unary_f(op, to_f(in[i])));
    }
  }
}

template <typename A>
__device__ __forceinline__ A arith(int op, A a, A b) {
  switch (op) {
    case b_add: return a + b;
    case b_sub: return a - b;
    case b_mul: return a * b;
    case b_div:
      if constexpr (std::is_same_v<A, float>) {
        return a / b;
      } else {
        return b == 0 ? A(0) : a / b;  // never reached: int division goes to the CPU
      }
    case b_max:
      if constexpr (std::is_same_v<A, float>) {
        return (a != a || b != b) ? a + b : fmaxf(a, b);  // NaN propagates
      } else {
        return a > b ? a : b;
      }
    case b_min:
      if constexpr (std::is_same_v<A, float>) {
        return (a != a || b != b) ? a + b : fminf(a, b);
      } else {
        return a < b ? a : b;
      }
    case b_pow:
      if constexpr (std::is_same_v<A, float>) return powf(a, b);
      else return a;
    default: return a;
  }
}

template <typename A>
__device__ __forceinline__ bool compare(int op, A a, A b) {
  switch (op) {
    case b_eq: return a == b;
    case b_ne: return a != b;
    case b_lt: return a < b;
    case b_le: return a <= b;
    case b_gt: return a > b;
    default: return a >= b;
  }
}

template <typename T, bool Contig>
__global__ void binary_kernel(int op, const T* a, T av, const T* b, T bv, void* out, Strided s, int64_t n) {
  using A = std::conditional_t<std::is_same_v<T, int32_t>, int32_t, float>;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    T x, y;
    if constexpr (Contig) {
      x = a ? a[i] : av;
      y = b ? b[i] : bv;
    } else {
      x = a ? a[strided_offset(s, 0, i)] : av;
      y = b ? b[strided_offset(s, 1, i)] : bv;
    }
    A xf, yf;
    if constexpr (std::is_same_v<T, int32_t>) {
      xf = x;
      yf = y;
    } else {
      xf = to_f(x);
      yf = to_f(y);
    }
    if (op >= b_eq) {
      static_cast<bool*>(out)[i] = compare<A>(op, xf, yf);
    } else if constexpr (std::is_same_v<T, int32_t>) {
      static_cast<T*>(out)[i] = arith<A>(op, xf, yf);
    } else {
      static_cast<T*>(out)[i] = from_f<T>(arith<A>(op, xf, yf));
    }
  }
}

template <typename T>
__global__ void select_kernel(const bool* c, const T* x, const T* y, T* out, Strided s, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    out[i] = c[strided_offset(s, 0, i)] ? x[strided_offset(s, 1, i)] : y[strided_offset(s, 2, i)];
  }
}

bool is_contig(const Strided& s, int k) {
  int64_t st = 1;
  for (int d = s.ndim - 1; d >= 0; --d) {
    if (s.shape[d] == 1) continue;
    if (s.strides[k][d] != st) return false;
    st *= s.shape[d];
  }
  return true;
}

template <typename T>
T host_value(double v) {
  if constexpr (std::is_same_v<T, __half>) return __float2half(static_cast<float>(v));
  else if constexpr (std::is_same_v<T, __nv_bfloat16>) return __float2bfloat16(static_cast<float>(v));
  else return static_cast<T>(v);
}

}  // namespace

bool unary_supported(int op, int dt) {
  if (dt == dt_int32) return op == u_abs || op == u_neg || op == u_square || op == u_sign;
  return dt == dt_f32 || dt == dt_f16 || dt == dt_bf16;
}

void unary(int op, int dt, const void* in, void* out, size_t n, cudaStream_t st) {
  if (n == 0) return;
  auto go = [&](auto t) {
    using T = decltype(t);
    unary_kernel<T><<<blocks_for(n, 256), 256, 0, st>>>(op, static_cast<const T*>(in), static_cast<T*>(out), n);
  };
  if (dt == dt_int32) go(int32_t{});
  else dispatch_float(dt, go);
  TESSERA_KERNEL_CHECK();
}

bool binary_supported(int op, int dt) {
  if (dt == dt_int32) return op != b_div && op != b_pow;
  return dt == dt_f32 || dt == dt_f16 || dt == dt_bf16;
}

void binary(int op, int dt, const void* a, double a_val, const void* b, double b_val, void* out, const Strided& s,
            size_t n, cudaStream_t st) {
  if (n == 0) return;
  bool contig = (!a || is_contig(s, 0)) && (!b || is_contig(s, 1));
  auto go = [&](auto t) {
    using T = decltype(t);
    auto ap = static_cast<const T*>(a);
    auto bp = static_cast<const T*>(b);
    if (contig) {
      binary_kernel<T, true><<<blocks_for(n, 256), 256, 0, st>>>(op, ap, host_value<T>(a_val), bp,
                                                                 host_value<T>(b_val), out, s, n);
    } else {
      binary_kernel<T, false><<<blocks_for(n, 256), 256, 0, st>>>(op, ap, host_value<T>(a_val), bp,
                                                                  host_value<T>(b_val), out, s, n);
    }
  };
  if (dt == dt_int32) go(int32_t{});
  else dispatch_float(dt, go);
  TESSERA_KERNEL_CHECK();
}

void select(const bool* cond, const void* x, const void* y, void* out, int elem_size, const Strided& s, size_t n,
            cudaStream_t st) {
  if (n == 0) return;
  auto go = [&](auto t) {
    using T = decltype(t);
    select_kernel<T><<<blocks_for(n, 256), 256, 0, st>>>(cond, static_cast<const T*>(x), static_cast<const T*>(y),
                                                         static_cast<T*>(out), s, n);
  };
  switch (elem_size) {
    case 1: go(uint8_t{}); break;
    case 2: go(uint16_t{}); break;
    case 4: go(uint32_t{}); break;
    default: go(uint64_t{}); break;
  }
  TESSERA_KERNEL_CHECK();
}

}  // namespace tessera::cuda
