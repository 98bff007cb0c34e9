// CUDA elementwise kernels: unary math, binary arithmetic/comparison with broadcast strides, select.
// Unary float32/f16/bf16 ops get one kernel per op (no per-element switch); binary ops, float64 and
// integers take the op as a uniform run-time switch (memory bound; keeps builds small). float32/f16/
// bf16 compute in float, float64 in double, integers and bool as C++ does on the CPU (promoted to
// int, the result converted back: wrap-around, bool results are "!= 0").
#include <type_traits>

#include "tessera/backend/cuda/kernels/dtypes.cuh"
#include "tessera/backend/cuda/kernels/vec.cuh"

namespace tessera::cuda {

namespace {

template <typename T>
constexpr bool is_16bit_float = std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;

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

__device__ __forceinline__ double unary_d(int op, double x) {
  switch (op) {
    case u_abs: return fabs(x);
    case u_neg: return -x;
    case u_square: return x * x;
    case u_exp: return exp(x);
    case u_expm1: return expm1(x);
    case u_log: return log(x);
    case u_log1p: return log1p(x);
    case u_log2: return log2(x);
    case u_log10: return log10(x);
    case u_sqrt: return sqrt(x);
    case u_rsqrt: return rsqrt(x);
    case u_recip: return 1.0 / x;
    case u_sin: return sin(x);
    case u_cos: return cos(x);
    case u_tan: return tan(x);
    case u_tanh: return tanh(x);
    case u_sigmoid: {
      double e = exp(-fabs(x));
      return x >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
    }
    case u_erf: return erf(x);
    case u_floor: return floor(x);
    case u_ceil: return ceil(x);
    case u_sign: return x > 0.0 ? 1.0 : (x < 0.0 ? -1.0 : (x == 0.0 ? 0.0 : x));
    case u_sinh: return sinh(x);
    case u_cosh: return cosh(x);
    case u_arctan: return atan(x);
    default: return x;
  }
}

// Integers and bool (abs/negative/square/sign only; the CPU backend's rules: unsigned and bool abs
// and sign keep x or give x > 0, bool negative/square keep x).
template <typename T>
__device__ __forceinline__ T unary_i(int op, T x) {
  if constexpr (std::is_same_v<T, bool>) {
    return x;
  } else {
    switch (op) {
      case u_abs:
        if constexpr (std::is_unsigned_v<T>) return x;
        else return static_cast<T>(x < T(0) ? -x : x);
      case u_neg: return static_cast<T>(-x);
      case u_square: return static_cast<T>(x * x);
      case u_sign:
        if constexpr (std::is_unsigned_v<T>) return static_cast<T>(x > T(0));
        else return static_cast<T>((x > T(0)) - (x < T(0)));
      default: return x;
    }
  }
}

template <typename T>
__device__ __forceinline__ T unary_t(int op, T x) {
  if constexpr (std::is_integral_v<T>) {
    return unary_i(op, x);
  } else if constexpr (std::is_same_v<T, double>) {
    return unary_d(op, x);
  } else {
    return from_f<T>(unary_f(op, to_f(x)));
  }
}

// exp for 16-bit outputs: one exp2 (2 ulp in float, far below a bf16/f16 rounding) instead of the
// accurate expf; float32 keeps expf (tested at 1e-5 against the CPU).
__device__ __forceinline__ float exp_fast(float x) { return exp2f(x * 1.4426950408889634f); }

// op(x) with the op fixed at compile time (Op >= 0: the switch folds away) or read at run time.
template <int Op, typename T>
__device__ __forceinline__ T unary_op(int op, T x) {
  if constexpr (Op < 0) {
    return unary_t(op, x);
  } else if constexpr (is_16bit_float<T> && Op == u_exp) {
    return from_f<T>(exp_fast(to_f(x)));
  } else if constexpr (is_16bit_float<T> && Op == u_sigmoid) {
    float f = to_f(x), e = exp_fast(-fabsf(f));
    return from_f<T>(__fdividef(f >= 0.0f ? 1.0f : e, 1.0f + e));
  } else {
    return unary_t(Op, x);
  }
}

// Packs a thread keeps in flight per grid-stride step of the vectorized unary kernel.
constexpr int kUnaryUnroll = 4;

// Contiguous input and output: 16-byte packs when both are aligned (Vec), kUnaryUnroll packs a
// thread loaded before any is computed, then the tail (or everything, when not aligned) one
// element at a time; grid-stride over the SM-sized grid.
template <typename T, bool Vec, int Op>
__global__ void unary_kernel(int op, const T* in, T* out, int64_t n) {
  constexpr int V = pack_of<T>(), U = kUnaryUnroll;
  using P = Pack<T, V>;
  int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x, stride = int64_t(gridDim.x) * blockDim.x;
  int64_t done = 0;
  if constexpr (Vec) {
    int64_t nv = n / V;
    auto pin = reinterpret_cast<const P*>(in);
    auto pout = reinterpret_cast<P*>(out);
    for (int64_t i = t; i < nv; i += stride * U) {
      P p[U];
#pragma unroll
      for (int u = 0; u < U; ++u) {
        int64_t j = i + u * stride;
        if (j < nv) p[u] = pin[j];
      }
#pragma unroll
      for (int u = 0; u < U; ++u) {
        int64_t j = i + u * stride;
        if (j < nv) {
#pragma unroll
          for (int k = 0; k < V; ++k) p[u].v[k] = unary_op<Op>(op, p[u].v[k]);
          pout[j] = p[u];
        }
      }
    }
    done = nv * V;
  }
  for (int64_t i = done + t; i < n; i += stride) out[i] = unary_op<Op>(op, in[i]);
}

// Rows of a wider matrix (in[(i / cols) * rstride + i % cols]) into a contiguous output: packs of 16
// bytes when Vec (cols and rstride whole packs, both pointers aligned).
template <typename T, bool Vec, int Op>
__global__ void unary_rows_kernel(int op, const T* in, T* out, int64_t cols, int64_t rstride, int64_t n) {
  constexpr int V = Vec ? pack_of<T>() : 1;
  using P = Pack<T, V>;
  int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x, stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = t; i < n / V; i += stride) {
    int64_t j = i * V;
    P p = *reinterpret_cast<const P*>(in + (j / cols) * rstride + j % cols);
#pragma unroll
    for (int k = 0; k < V; ++k) p.v[k] = unary_op<Op>(op, p.v[k]);
    reinterpret_cast<P*>(out)[i] = p;
  }
}

// Calls f(std::integral_constant<int, op>{}) for a float unary op code on float / f16 / bf16 values,
// so that each op gets its own kernel without a per-element switch; f(integral_constant<-1>) (the
// op read at run time) for other ops and other dtypes.
template <typename T, typename F>
void with_unary_op(int op, F&& f) {
  using std::integral_constant;
  if constexpr (!(std::is_same_v<T, float> || is_16bit_float<T>)) {
    f(integral_constant<int, -1>{});
  } else {
    switch (op) {
#define TESSERA_UNARY_CASE(o) \
  case o: f(integral_constant<int, o>{}); return;
    TESSERA_UNARY_CASE(u_abs) TESSERA_UNARY_CASE(u_neg) TESSERA_UNARY_CASE(u_square) TESSERA_UNARY_CASE(u_exp)
    TESSERA_UNARY_CASE(u_expm1) TESSERA_UNARY_CASE(u_log) TESSERA_UNARY_CASE(u_log1p) TESSERA_UNARY_CASE(u_log2)
    TESSERA_UNARY_CASE(u_log10) TESSERA_UNARY_CASE(u_sqrt) TESSERA_UNARY_CASE(u_rsqrt) TESSERA_UNARY_CASE(u_recip)
    TESSERA_UNARY_CASE(u_sin) TESSERA_UNARY_CASE(u_cos) TESSERA_UNARY_CASE(u_tan) TESSERA_UNARY_CASE(u_tanh)
    TESSERA_UNARY_CASE(u_sigmoid) TESSERA_UNARY_CASE(u_erf) TESSERA_UNARY_CASE(u_floor) TESSERA_UNARY_CASE(u_ceil)
    TESSERA_UNARY_CASE(u_sign) TESSERA_UNARY_CASE(u_sinh) TESSERA_UNARY_CASE(u_cosh) TESSERA_UNARY_CASE(u_arctan)
#undef TESSERA_UNARY_CASE
      default: f(integral_constant<int, -1>{});
    }
  }
}

// x ** y for integers as on the CPU: negative exponents give 0 except for bases +-1; otherwise
// square-and-multiply in a wide unsigned type (wraps like the hardware); bool: x || !y.
template <typename A>
__device__ __forceinline__ A int_pow(A x, A y) {
  if constexpr (std::is_same_v<A, bool>) {
    return x || !y;
  } else {
    if constexpr (std::is_signed_v<A>) {
      if (y < 0) {
        if (x == 1) return A(1);
        if (x == -1) return static_cast<A>((y & 1) ? -1 : 1);
        return A(0);
      }
    }
    using U = std::make_unsigned_t<A>;
    using W = std::conditional_t<(sizeof(A) < 4), uint32_t, U>;
    W base = static_cast<W>(x), r = 1;
    U e = static_cast<U>(y);
    while (e) {
      if (e & 1) r *= base;
      base *= base;
      e >>= 1;
    }
    return static_cast<A>(r);
  }
}

template <typename A>
__device__ __forceinline__ A arith(int op, A a, A b) {
  constexpr bool fp = std::is_floating_point_v<A>;
  switch (op) {
    case b_add: return static_cast<A>(a + b);
    case b_sub: return static_cast<A>(a - b);
    case b_mul: return static_cast<A>(a * b);
    case b_div:
      if constexpr (fp) {
        return a / b;
      } else {
        return b == 0 ? A(0) : static_cast<A>(a / b);  // never reached: divide is for floats (ops promote)
      }
    case b_max:
      if constexpr (fp) {
        if constexpr (std::is_same_v<A, float>) return (a != a || b != b) ? a + b : fmaxf(a, b);  // NaN propagates
        else return (a != a || b != b) ? a + b : fmax(a, b);
      } else {
        return a > b ? a : b;
      }
    case b_min:
      if constexpr (fp) {
        if constexpr (std::is_same_v<A, float>) return (a != a || b != b) ? a + b : fminf(a, b);
        else return (a != a || b != b) ? a + b : fmin(a, b);
      } else {
        return a < b ? a : b;
      }
    case b_pow:
      if constexpr (std::is_same_v<A, float>) return powf(a, b);
      else if constexpr (std::is_same_v<A, double>) return pow(a, b);
      else return int_pow(a, b);
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

// out = op(x, y) for one element pair: arithmetic in float (int32 for int32, double for float64),
// comparisons to bool.
template <typename T, typename O>
__device__ __forceinline__ O binary_t(int op, T x, T y) {
  using A = acc_of<T>;
  A xf = to_acc(x), yf = to_acc(y);
  if constexpr (std::is_same_v<O, bool>) {
    // bool out: a comparison, or arithmetic on bool inputs (T = O = bool: or, and, max, min, power).
    if constexpr (std::is_same_v<T, bool>) {
      if (op < b_eq) return arith<A>(op, xf, yf);
    }
    return compare<A>(op, xf, yf);
  } else {
    return from_acc<T>(arith<A>(op, xf, yf));
  }
}

// How an operand of a binary op is read at linear output index j (the output is contiguous).
enum OperandKind : int {
  k_value,    // the by-value scalar
  k_contig,   // p[j]
  k_row,      // p[j % period]: a row repeated over the leading dims ((M, N) op (N,))
  k_col,      // p[j / period]: one value per row ((M, N) op (M, 1))
  k_scalar,   // p[0]: a one-element device array broadcast everywhere
  k_rows,     // p[(j / period) * rstride + j % period]: rows of a wider matrix (a column slice of it)
};

template <typename T>
struct Operand {
  const T* p;
  T val;
  int kind;
  int64_t period;
  int64_t rstride = 0;  // k_rows: elements between row starts
};

template <typename T>
__device__ __forceinline__ T read(const Operand<T>& o, int64_t j) {
  switch (o.kind) {
    case k_contig: return o.p[j];
    case k_row: return o.p[j % o.period];
    case k_col: return o.p[j / o.period];
    case k_rows: return o.p[(j / o.period) * o.rstride + j % o.period];
    default: return o.val;
  }
}

// V consecutive values of o starting at j (j a multiple of V; the launcher checked that packs of
// k_contig/k_row operands are aligned and k_col periods are multiples of V).
template <typename T, int V>
__device__ __forceinline__ Pack<T, V> read_pack(const Operand<T>& o, int64_t j) {
  Pack<T, V> r;
  if (o.kind == k_contig || o.kind == k_row || o.kind == k_rows) {
    int64_t e = o.kind == k_contig ? j : o.kind == k_row ? j % o.period : (j / o.period) * o.rstride + j % o.period;
    r = *reinterpret_cast<const Pack<T, V>*>(o.p + e);
  } else {
    T v = o.kind == k_col ? o.p[j / o.period] : o.val;
#pragma unroll
    for (int k = 0; k < V; ++k) r.v[k] = v;
  }
  return r;
}

// Contiguous output, operands by kind; packs of 16 bytes of T when Vec, the tail per element.
template <typename T, typename O, bool Vec>
__global__ void binary_fast_kernel(int op, Operand<T> a, Operand<T> b, O* out, int64_t n) {
  constexpr int V = pack_of<T>();
  if (a.kind == k_scalar) a.val = a.p[0], a.kind = k_value;
  if (b.kind == k_scalar) b.val = b.p[0], b.kind = k_value;
  int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x, stride = int64_t(gridDim.x) * blockDim.x;
  int64_t done = 0;
  if constexpr (Vec) {
    int64_t nv = n / V;
    for (int64_t i = t; i < nv; i += stride) {
      auto x = read_pack<T, V>(a, i * V);
      auto y = read_pack<T, V>(b, i * V);
      Pack<O, V> r;
#pragma unroll
      for (int k = 0; k < V; ++k) r.v[k] = binary_t<T, O>(op, x.v[k], y.v[k]);
      reinterpret_cast<Pack<O, V>*>(out)[i] = r;
    }
    done = nv * V;
  }
  for (int64_t i = done + t; i < n; i += stride) out[i] = binary_t<T, O>(op, read(a, i), read(b, i));
}

// General broadcast strides (operand 0 = a, 1 = b).
template <typename T, typename O>
__global__ void binary_strided_kernel(int op, const T* a, T av, const T* b, T bv, O* out, Strided s, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    T x = a ? a[strided_offset(s, 0, i)] : av;
    T y = b ? b[strided_offset(s, 1, i)] : bv;
    out[i] = binary_t<T, O>(op, x, y);
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

// The fast-path kind of operand k (null pointer: by value); false when it needs general strides.
template <typename T>
bool classify(const Strided& s, int k, const void* p, double val, Operand<T>& o) {
  o = {static_cast<const T*>(p), host_value<T>(val), k_value, 1};
  if (!p) return true;
  bool all_zero = true;
  for (int d = 0; d < s.ndim; ++d) all_zero &= s.strides[k][d] == 0 || s.shape[d] == 1;
  if (all_zero) {
    o.kind = k_scalar;
  } else if (is_contig(s, k)) {
    o.kind = k_contig;
  } else if (s.ndim == 2 && s.strides[k][0] == 0 && s.strides[k][1] == 1) {
    o.kind = k_row;
    o.period = s.shape[1];
  } else if (s.ndim == 2 && s.strides[k][0] == 1 && s.strides[k][1] == 0) {
    o.kind = k_col;
    o.period = s.shape[1];
  } else if (s.ndim == 2 && s.strides[k][1] == 1 && s.strides[k][0] >= s.shape[1]) {
    o.kind = k_rows;
    o.period = s.shape[1];
    o.rstride = s.strides[k][0];
  } else {
    return false;
  }
  return true;
}

// Packs of V elements are possible for o: aligned pointer, row periods and column periods whole packs.
template <typename T>
bool pack_ok(const Operand<T>& o, int V) {
  switch (o.kind) {
    case k_contig: return aligned_to(16, o.p);
    case k_row: return aligned_to(16, o.p) && o.period % V == 0;
    case k_col: return o.period % V == 0;
    case k_rows: return aligned_to(16, o.p) && o.period % V == 0 && o.rstride % V == 0;
    default: return true;
  }
}


}  // namespace

bool unary_supported(int op, int dt) {
  if (dt == dt_bool || is_int_dt(dt)) return op == u_abs || op == u_neg || op == u_square || op == u_sign;
  return is_float_dt(dt);
}

namespace {
// Calls f(T{}) for the dtypes of unary/binary: bool, every integer width, the float types and float64.
template <typename F>
void dispatch_elementwise(int dt, F&& f) {
  dispatch_real(dt, f);
}
}  // namespace

void unary(int op, int dt, const void* in, void* out, size_t n, cudaStream_t st) {
  if (n == 0) return;
  auto go = [&](auto t) {
    using T = decltype(t);
    auto ip = static_cast<const T*>(in);
    auto op_ = static_cast<T*>(out);
    auto launch = [&](auto c) {
      constexpr int Op = decltype(c)::value;
      if (aligned_to(16, in, out)) {
        size_t packs = n / pack_of<T>() + 1;
        unary_kernel<T, true, Op><<<grid_for((packs + kUnaryUnroll - 1) / kUnaryUnroll, 256), 256, 0, st>>>(
            op, ip, op_, n);
      } else {
        unary_kernel<T, false, Op><<<grid_for(n, 256), 256, 0, st>>>(op, ip, op_, n);
      }
    };
    with_unary_op<T>(op, launch);
  };
  dispatch_elementwise(dt, go);
  TESSERA_KERNEL_CHECK();
}

void unary_rows(int op, int dt, const void* in, void* out, int64_t cols, int64_t rstride, size_t n, cudaStream_t st) {
  if (n == 0) return;
  auto go = [&](auto t) {
    using T = decltype(t);
    auto ip = static_cast<const T*>(in);
    auto op_ = static_cast<T*>(out);
    auto launch = [&](auto c) {
      constexpr int Op = decltype(c)::value;
      constexpr int V = pack_of<T>();
      if (aligned_to(16, in, out) && cols % V == 0 && rstride % V == 0) {
        unary_rows_kernel<T, true, Op><<<grid_for(n / V, 256), 256, 0, st>>>(op, ip, op_, cols, rstride, n);
      } else {
        unary_rows_kernel<T, false, Op><<<grid_for(n, 256), 256, 0, st>>>(op, ip, op_, cols, rstride, n);
      }
    };
    with_unary_op<T>(op, launch);
  };
  dispatch_elementwise(dt, go);
  TESSERA_KERNEL_CHECK();
}

bool binary_supported(int op, int dt) {
  if (dt == dt_bool || is_int_dt(dt)) return op != b_div;  // the CPU divides floats only
  return is_float_dt(dt);
}

void binary(int op, int dt, const void* a, double a_val, const void* b, double b_val, void* out, const Strided& s,
            size_t n, cudaStream_t st) {
  if (n == 0) return;
  auto go = [&](auto t) {
    using T = decltype(t);
    auto run = [&](auto o) {
      using O = decltype(o);
      auto out_p = static_cast<O*>(out);
      Operand<T> x, y;
      if (classify<T>(s, 0, a, a_val, x) && classify<T>(s, 1, b, b_val, y)) {
        constexpr int V = pack_of<T>();
        if (pack_ok(x, V) && pack_ok(y, V) && aligned_to(sizeof(O) * V, out)) {
          binary_fast_kernel<T, O, true><<<grid_for(n / V + 1, 256), 256, 0, st>>>(op, x, y, out_p, n);
        } else {
          binary_fast_kernel<T, O, false><<<grid_for(n, 256), 256, 0, st>>>(op, x, y, out_p, n);
        }
      } else {
        binary_strided_kernel<T, O><<<blocks_for(n, 256), 256, 0, st>>>(
            op, static_cast<const T*>(a), host_value<T>(a_val), static_cast<const T*>(b), host_value<T>(b_val),
            out_p, s, n);
      }
    };
    if (op >= b_eq) run(bool{});
    else run(T{});
  };
  dispatch_elementwise(dt, go);
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
