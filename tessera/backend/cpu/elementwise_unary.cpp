// CPU evaluation of floating-point unary math (exp, log, trig, erf, ...); float32 and 16-bit floats
// use the vectorizable simd_math.h versions of exp/log/tanh/sigmoid/erf, float64 uses std::.
// Float compares may not trap here, so GCC if-converts the branch-free selects and vectorizes.
#pragma GCC optimize("no-trapping-math")

#include <cmath>
#include <limits>

#include "tessera/backend/cpu/elementwise_kernels.h"
#include "tessera/backend/cpu/simd_math.h"
#include "tessera/primitives/elementwise.h"

namespace tessera {

namespace {

using cpu::ew::unary_run;

// Float-in, float-out: float16, bfloat16, float32, float64 (the op promoted ints already).
template <typename Op>
void unary_float(const array& in, array& out, const char* name, Op op) {
  dispatch_float(in.dtype(), name, [&](auto t) {
    using T = decltype(t);
    unary_run<T, T>(in, out, op);
  });
}

template <typename A>
constexpr bool is_f32 = std::is_same_v<A, float>;

// erfinv in double: Giles' single-precision approximation, then two Newton steps on erf.
double erfinv_double(double y) {
  if (std::isnan(y) || y < -1.0 || y > 1.0) return std::numeric_limits<double>::quiet_NaN();
  if (y == 1.0) return std::numeric_limits<double>::infinity();
  if (y == -1.0) return -std::numeric_limits<double>::infinity();
  double w = -std::log((1.0 - y) * (1.0 + y)), p;
  if (w < 5.0) {
    w -= 2.5;
    p = 2.81022636e-08;
    p = 3.43273939e-07 + p * w;
    p = -3.5233877e-06 + p * w;
    p = -4.39150654e-06 + p * w;
    p = 0.00021858087 + p * w;
    p = -0.00125372503 + p * w;
    p = -0.00417768164 + p * w;
    p = 0.246640727 + p * w;
    p = 1.50140941 + p * w;
  } else {
    w = std::sqrt(w) - 3.0;
    p = -0.000200214257;
    p = 0.000100950558 + p * w;
    p = 0.00134934322 + p * w;
    p = -0.00367342844 + p * w;
    p = 0.00573950773 + p * w;
    p = -0.0076224613 + p * w;
    p = 0.00943887047 + p * w;
    p = 1.00167406 + p * w;
    p = 2.83297682 + p * w;
  }
  double x = p * y;
  for (int i = 0; i < 2; ++i) {
    double d = 1.1283791670955126 * std::exp(-x * x);
    if (d == 0.0) break;
    x -= (std::erf(x) - y) / d;
  }
  return x;
}

}  // namespace

#define TESSERA_FLOAT_UNARY(NAME, EXPR)                                                         \
  void NAME::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {                  \
    unary_float(in[0], out[0], name(), [](auto x) {                                             \
      using A = decltype(x);                                                                    \
      (void)sizeof(A);                                                                          \
      return static_cast<A>(EXPR);                                                              \
    });                                                                                         \
  }

TESSERA_FLOAT_UNARY(Exp, is_f32<A> ? simd::exp(x) : std::exp(x))
TESSERA_FLOAT_UNARY(Expm1, std::expm1(x))
TESSERA_FLOAT_UNARY(Log, is_f32<A> ? simd::log(x) : std::log(x))
TESSERA_FLOAT_UNARY(Log1p, std::log1p(x))
TESSERA_FLOAT_UNARY(Log2, std::log2(x))
TESSERA_FLOAT_UNARY(Log10, std::log10(x))
TESSERA_FLOAT_UNARY(Sqrt, std::sqrt(x))
TESSERA_FLOAT_UNARY(Rsqrt, A(1) / std::sqrt(x))
TESSERA_FLOAT_UNARY(Reciprocal, A(1) / x)
TESSERA_FLOAT_UNARY(Sin, std::sin(x))
TESSERA_FLOAT_UNARY(Cos, std::cos(x))
TESSERA_FLOAT_UNARY(Tan, std::tan(x))
TESSERA_FLOAT_UNARY(ArcSin, std::asin(x))
TESSERA_FLOAT_UNARY(ArcCos, std::acos(x))
TESSERA_FLOAT_UNARY(ArcTan, std::atan(x))
TESSERA_FLOAT_UNARY(Sinh, std::sinh(x))
TESSERA_FLOAT_UNARY(Cosh, std::cosh(x))
TESSERA_FLOAT_UNARY(Tanh, is_f32<A> ? simd::tanh(x) : std::tanh(x))
TESSERA_FLOAT_UNARY(ArcSinh, std::asinh(x))
TESSERA_FLOAT_UNARY(ArcCosh, std::acosh(x))
TESSERA_FLOAT_UNARY(ArcTanh, std::atanh(x))
TESSERA_FLOAT_UNARY(Sigmoid, is_f32<A> ? simd::sigmoid(x) : A(1) / (A(1) + std::exp(-x)))
TESSERA_FLOAT_UNARY(Erf, is_f32<A> ? simd::erf(x) : std::erf(x))
TESSERA_FLOAT_UNARY(ErfInv, erfinv_double(x))
TESSERA_FLOAT_UNARY(Floor, std::floor(x))
TESSERA_FLOAT_UNARY(Ceil, std::ceil(x))
TESSERA_FLOAT_UNARY(Round, std::nearbyint(x))  // default rounding mode: half to even

#undef TESSERA_FLOAT_UNARY

}  // namespace tessera
