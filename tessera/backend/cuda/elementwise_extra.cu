// CUDA elementwise kernels beyond elementwise.cu: one kernel per dtype with the op as a uniform
// run-time switch; 16-bit floats compute in float, semantics follow the CPU backend (NumPy).
#include "tessera/backend/cuda/kernels/dtypes.cuh"
#include "tessera/backend/cuda/kernels_elementwise_extra.h"
#include "tessera/backend/cuda/runtime.h"

namespace tessera::cuda {

namespace {

bool is_pred(int op) { return op >= ux_isnan && op <= ux_isfinite; }

template <typename A>
__device__ __forceinline__ A unary_float(int op, A x) {
  switch (op) {
    case ux_arcsin: return asin(x);
    case ux_arccos: return acos(x);
    case ux_arcsinh: return asinh(x);
    case ux_arccosh: return acosh(x);
    case ux_arctanh: return atanh(x);
    case ux_erfinv: return erfinv(x);
    default: return rint(x);  // ux_round: half to even
  }
}

template <typename A>
__device__ __forceinline__ bool unary_pred(int op, A x) {
  const A inf = A(INFINITY);
  switch (op) {
    case ux_isnan: return x != x;
    case ux_isinf: return x == inf || x == -inf;
    case ux_isposinf: return x == inf;
    case ux_isneginf: return x == -inf;
    default: return x - x == A(0);
  }
}

template <typename T>
__global__ void unary_extra_kernel(int op, const T* in, void* out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    if constexpr (is_float_v<T>) {
      auto x = to_acc(in[i]);
      if (op >= ux_isnan && op <= ux_isfinite) static_cast<bool*>(out)[i] = unary_pred(op, x);
      else static_cast<T*>(out)[i] = from_acc<T>(unary_float(op, x));
    } else if constexpr (std::is_same_v<T, bool>) {
      static_cast<bool*>(out)[i] = !in[i];  // logical_not and bitwise_invert
    } else {
      static_cast<T*>(out)[i] = static_cast<T>(~in[i]);
    }
  }
}

template <typename T>
__device__ __forceinline__ bool shift_out_of_range(T y) {
  if constexpr (std::is_signed_v<T>) {
    if (y < 0) return true;
  }
  return static_cast<uint64_t>(y) >= sizeof(T) * 8;
}

template <typename T>
__device__ __forceinline__ T binary_int(int op, T x, T y) {
  using U = std::make_unsigned_t<T>;
  switch (op) {
    case bx_floor_divide:
      if (y == 0) return T(0);
      if constexpr (std::is_signed_v<T>) {
        if (y == T(-1)) return static_cast<T>(U(0) - static_cast<U>(x));
        T q = static_cast<T>(x / y);
        return static_cast<T>((x % y != 0 && ((x < 0) != (y < 0))) ? q - 1 : q);
      } else {
        return static_cast<T>(x / y);
      }
    case bx_remainder:
      if (y == 0) return T(0);
      if constexpr (std::is_signed_v<T>) {
        if (y == T(-1)) return T(0);
        T r = static_cast<T>(x % y);
        return static_cast<T>((r != 0 && ((r < 0) != (y < 0))) ? r + y : r);
      } else {
        return static_cast<T>(x % y);
      }
    case bx_bitwise_and: return static_cast<T>(x & y);
    case bx_bitwise_or: return static_cast<T>(x | y);
    case bx_bitwise_xor: return static_cast<T>(x ^ y);
    case bx_left_shift:
      if (shift_out_of_range(y)) return T(0);
      return static_cast<T>(static_cast<U>(x) << y);
    default:  // bx_right_shift
      if (shift_out_of_range(y)) {
        if constexpr (std::is_signed_v<T>) return static_cast<T>(x < 0 ? -1 : 0);
        else return T(0);
      }
      return static_cast<T>(x >> y);
  }
}

template <typename A>
__device__ __forceinline__ A binary_float(int op, A x, A y) {
  switch (op) {
    case bx_floor_divide: return floor(x / y);
    case bx_remainder: {
      A r = fmod(x, y);
      if (r != A(0) && ((r < A(0)) != (y < A(0)))) r += y;
      else if (r == A(0)) r = copysign(A(0), y);
      return r;
    }
    case bx_logaddexp: {
      A m = x != x ? x : (x > y ? x : y);
      A d = x > y ? y - x : x - y;
      A r = m + log1p(exp(d));
      return (x == y && isinf(x)) ? x : r;
    }
    default: return atan2(x, y);  // bx_arctan2
  }
}

template <typename T>
__global__ void binary_extra_kernel(int op, const T* a, const T* b, T* out, Strided s, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    T x = a[strided_offset(s, 0, i)], y = b[strided_offset(s, 1, i)];
    if constexpr (std::is_same_v<T, bool>) {
      switch (op) {
        case bx_logical_and: case bx_bitwise_and: case bx_floor_divide: out[i] = x && y; break;
        case bx_logical_or: case bx_bitwise_or: out[i] = x || y; break;
        case bx_remainder: out[i] = false; break;
        case bx_left_shift: case bx_right_shift: out[i] = x && !y; break;  // as the CPU's bool case
        default: out[i] = x != y; break;  // bx_bitwise_xor
      }
    } else if constexpr (is_float_v<T>) {
      out[i] = from_acc<T>(binary_float(op, to_acc(x), to_acc(y)));
    } else {
      out[i] = binary_int<T>(op, x, y);
    }
  }
}

}  // namespace

bool unary_extra_supported(int op, int dt) {
  if (op <= ux_round || is_pred(op)) return is_float_dt(dt);
  if (op == ux_logical_not) return dt == dt_bool;
  return dt == dt_bool || is_int_dt(dt);  // ux_bitwise_invert
}

void unary_extra(int op, int dt, const void* in, void* out, size_t n, cudaStream_t st) {
  if (n == 0) return;
  dispatch_real(dt, [&](auto t) {
    using T = decltype(t);
    unary_extra_kernel<T><<<blocks_for(n, 256), 256, 0, st>>>(op, static_cast<const T*>(in), out, n);
    TESSERA_CUDA_LAUNCH_CHECK();
  });
}

bool binary_extra_supported(int op, int dt) {
  switch (op) {
    case bx_floor_divide: case bx_remainder: return is_float_dt(dt) || is_int_dt(dt) || dt == dt_bool;
    case bx_logaddexp: case bx_arctan2: return is_float_dt(dt);
    case bx_logical_and: case bx_logical_or: return dt == dt_bool;
    default: return dt == dt_bool || is_int_dt(dt);  // bitwise ops and shifts
  }
}

void binary_extra(int op, int dt, const void* a, const void* b, void* out, const Strided& s, size_t n,
                  cudaStream_t st) {
  if (n == 0) return;
  dispatch_real(dt, [&](auto t) {
    using T = decltype(t);
    binary_extra_kernel<T><<<blocks_for(n, 256), 256, 0, st>>>(op, static_cast<const T*>(a), static_cast<const T*>(b),
                                                               static_cast<T*>(out), s, n);
    TESSERA_CUDA_LAUNCH_CHECK();
  });
}

}  // namespace tessera::cuda
