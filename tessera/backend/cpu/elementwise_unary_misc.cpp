// CPU evaluation of the non-transcendental unary primitives: abs, negative, sign, square,
// float classification (isnan, ...), logical/bitwise not and complex parts.
#pragma GCC optimize("no-trapping-math")

#include <cmath>

#include "tessera/backend/cpu/elementwise_kernels.h"
#include "tessera/primitives/elementwise.h"

namespace tessera {

namespace {

using cpu::ew::unary_run;

// Same dtype in and out over every real dtype (bool and integers included).
template <typename Op>
void unary_real(const array& in, array& out, const char* name, Op op) {
  cpu::ew::dispatch_real(in.dtype(), name, [&](auto t) {
    using T = decltype(t);
    unary_run<T, T>(in, out, op);
  });
}

// Floating input, bool output.
template <typename Op>
void unary_float_pred(const array& in, array& out, const char* name, Op op) {
  dispatch_float(in.dtype(), name, [&](auto t) {
    using T = decltype(t);
    unary_run<T, bool>(in, out, op);
  });
}

void require_complex(const array& in, const char* name) {
  if (in.dtype() != complex64) {
    throw std::invalid_argument(std::string("[") + name + "] expected complex64, got " + dtype_name(in.dtype()) + ".");
  }
}

}  // namespace

void Abs::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  if (in[0].dtype() == complex64) {
    unary_run<complex64_t, float>(in[0], out[0], [](complex64_t x) { return std::abs(x); });
    return;
  }
  unary_real(in[0], out[0], name(), [](auto x) {
    using A = decltype(x);
    if constexpr (std::is_unsigned_v<A> || std::is_same_v<A, bool>) return x;
    else return static_cast<A>(x < A(0) ? -x : x);
  });
}

void Negative::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  if (in[0].dtype() == complex64) {
    unary_run<complex64_t, complex64_t>(in[0], out[0], [](complex64_t x) { return -x; });
    return;
  }
  unary_real(in[0], out[0], name(), [](auto x) {
    using A = decltype(x);
    if constexpr (std::is_same_v<A, bool>) return x;
    else return static_cast<A>(-x);
  });
}

void Sign::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  unary_real(in[0], out[0], name(), [](auto x) {
    using A = decltype(x);
    if constexpr (std::is_same_v<A, bool>) return x;
    else if constexpr (std::is_unsigned_v<A>) return static_cast<A>(x > 0);
    else if constexpr (std::is_integral_v<A>) return static_cast<A>((x > 0) - (x < 0));
    else return x > A(0) ? A(1) : (x < A(0) ? A(-1) : x);  // keeps 0 and NaN
  });
}

void Square::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  if (in[0].dtype() == complex64) {
    unary_run<complex64_t, complex64_t>(in[0], out[0], [](complex64_t x) { return x * x; });
    return;
  }
  unary_real(in[0], out[0], name(), [](auto x) {
    using A = decltype(x);
    if constexpr (std::is_same_v<A, bool>) return x;
    else return static_cast<A>(x * x);
  });
}

void IsNan::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  unary_float_pred(in[0], out[0], name(), [](auto x) { return x != x; });
}
void IsInf::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  unary_float_pred(in[0], out[0], name(), [](auto x) {
    using A = decltype(x);
    return x == std::numeric_limits<A>::infinity() || x == -std::numeric_limits<A>::infinity();
  });
}
void IsPosInf::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  unary_float_pred(in[0], out[0], name(), [](auto x) { return x == std::numeric_limits<decltype(x)>::infinity(); });
}
void IsNegInf::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  unary_float_pred(in[0], out[0], name(), [](auto x) { return x == -std::numeric_limits<decltype(x)>::infinity(); });
}
void IsFinite::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  unary_float_pred(in[0], out[0], name(), [](auto x) { return x - x == decltype(x)(0); });  // inf-inf, NaN -> NaN
}

void LogicalNot::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  unary_run<bool, bool>(in[0], out[0], [](bool x) { return !x; });
}

void BitwiseInvert::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  cpu::ew::dispatch_integral(in[0].dtype(), name(), [&](auto t) {
    using T = decltype(t);
    unary_run<T, T>(in[0], out[0], [](T x) {
      if constexpr (std::is_same_v<T, bool>) return !x;
      else return static_cast<T>(~x);
    });
  });
}

void Real::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  require_complex(in[0], name());
  unary_run<complex64_t, float>(in[0], out[0], [](complex64_t x) { return x.real(); });
}
void Imag::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  require_complex(in[0], name());
  unary_run<complex64_t, float>(in[0], out[0], [](complex64_t x) { return x.imag(); });
}
void Conjugate::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  require_complex(in[0], name());
  unary_run<complex64_t, complex64_t>(in[0], out[0], [](complex64_t x) { return std::conj(x); });
}

}  // namespace tessera
