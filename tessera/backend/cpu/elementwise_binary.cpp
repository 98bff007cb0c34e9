// CPU evaluation of binary arithmetic primitives: add .. divide, floor_divide, remainder (Python
// signs), power, maximum/minimum (NaN propagates), logaddexp, arctan2.
#pragma GCC optimize("no-trapping-math")

#include <cmath>
#include <limits>

#include "tessera/backend/cpu/elementwise_kernels.h"
#include "tessera/backend/cpu/simd_math.h"
#include "tessera/primitives/elementwise.h"

namespace tessera {

namespace {

using cpu::ew::binary_run;

// Same dtype in and out over every real dtype; complex64 too when the op supports it.
template <bool Complex, typename Op>
void binary_same(const std::vector<array>& in, array& out, const char* name, Op op) {
  if constexpr (Complex) {
    if (in[0].dtype() == complex64) {
      binary_run<complex64_t, complex64_t>(in[0], in[1], out, op);
      return;
    }
  }
  cpu::ew::dispatch_real(in[0].dtype(), name, [&](auto t) {
    using T = decltype(t);
    binary_run<T, T>(in[0], in[1], out, op);
  });
}

template <typename Op>
void binary_float(const std::vector<array>& in, array& out, const char* name, Op op) {
  dispatch_float(in[0].dtype(), name, [&](auto t) {
    using T = decltype(t);
    binary_run<T, T>(in[0], in[1], out, op);
  });
}

template <typename A>
constexpr bool is_signed_int = std::is_integral_v<A> && std::is_signed_v<A>;

// -x with wrap-around for the most negative value.
template <typename A>
A wrap_neg(A x) {
  return static_cast<A>(0 - static_cast<std::make_unsigned_t<A>>(x));
}

}  // namespace

void Add::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  binary_same<true>(in, out[0], name(), [](auto x, auto y) { return x + y; });
}
void Subtract::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  binary_same<true>(in, out[0], name(), [](auto x, auto y) { return x - y; });
}
void Multiply::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  binary_same<true>(in, out[0], name(), [](auto x, auto y) {
    if constexpr (std::is_same_v<decltype(x), bool>) return x && y;
    else return x * y;
  });
}
void Divide::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  if (in[0].dtype() == complex64) {
    binary_run<complex64_t, complex64_t>(in[0], in[1], out[0], [](complex64_t x, complex64_t y) { return x / y; });
    return;
  }
  binary_float(in, out[0], name(), [](auto x, auto y) { return x / y; });
}

void FloorDivide::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  binary_same<false>(in, out[0], name(), [](auto x, auto y) {
    using A = decltype(x);
    if constexpr (std::is_same_v<A, bool>) {
      return x && y;
    } else if constexpr (std::is_integral_v<A>) {
      if (y == 0) return A(0);  // NumPy returns 0 (with a warning) instead of trapping
      if constexpr (is_signed_int<A>) {
        if (y == -1) return wrap_neg(x);
        A q = static_cast<A>(x / y);
        return static_cast<A>((x % y != 0 && ((x < 0) != (y < 0))) ? q - 1 : q);
      } else {
        return static_cast<A>(x / y);
      }
    } else {
      return std::floor(x / y);
    }
  });
}

void Remainder::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  binary_same<false>(in, out[0], name(), [](auto x, auto y) {
    using A = decltype(x);
    if constexpr (std::is_same_v<A, bool>) {
      return false;
    } else if constexpr (std::is_integral_v<A>) {
      if (y == 0) return A(0);
      if constexpr (is_signed_int<A>) {
        if (y == -1) return A(0);
        A r = static_cast<A>(x % y);
        return static_cast<A>((r != 0 && ((r < 0) != (y < 0))) ? r + y : r);
      } else {
        return static_cast<A>(x % y);
      }
    } else {
      A r = std::fmod(x, y);
      if (r != A(0) && ((r < A(0)) != (y < A(0)))) r += y;
      else if (r == A(0)) r = std::copysign(A(0), y);  // the sign of the divisor, like Python
      return r;
    }
  });
}

void Power::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  binary_same<true>(in, out[0], name(), [](auto x, auto y) {
    using A = decltype(x);
    if constexpr (std::is_same_v<A, bool>) {
      return x || !y;
    } else if constexpr (std::is_integral_v<A>) {
      if constexpr (is_signed_int<A>) {
        if (y < 0) {  // integer results of negative powers: only +-1 survive
          if (x == 1) return A(1);
          if (x == -1) return static_cast<A>((y & 1) ? -1 : 1);
          return A(0);
        }
      }
      // Square-and-multiply in a wide unsigned type: wraps like the hardware, never UB.
      using W = std::conditional_t<(sizeof(A) < 4), uint32_t, std::make_unsigned_t<A>>;
      W base = static_cast<W>(x), r = 1;
      auto e = static_cast<std::make_unsigned_t<A>>(y);
      while (e) {
        if (e & 1) r *= base;
        base *= base;
        e >>= 1;
      }
      return static_cast<A>(r);
    } else {
      return std::pow(x, y);
    }
  });
}

void Maximum::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  binary_same<false>(in, out[0], name(), [](auto x, auto y) {
    using A = decltype(x);
    if constexpr (std::is_integral_v<A>) return x > y ? x : y;
    else return x != x ? x : (x > y ? x : y);  // NaN in either propagates
  });
}
void Minimum::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  binary_same<false>(in, out[0], name(), [](auto x, auto y) {
    using A = decltype(x);
    if constexpr (std::is_integral_v<A>) return x < y ? x : y;
    else return x != x ? x : (x < y ? x : y);
  });
}

void LogAddExp::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  binary_float(in, out[0], name(), [](auto x, auto y) {
    using A = decltype(x);
    A m = x != x ? x : (x > y ? x : y);
    A d = x > y ? y - x : x - y;  // -|x - y|
    A e;
    if constexpr (std::is_same_v<A, float>) e = simd::exp(d);
    else e = std::exp(d);
    A r = m + std::log1p(e);
    return (x == y && std::isinf(x)) ? x : r;  // inf - inf would give NaN
  });
}

void ArcTan2::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  binary_float(in, out[0], name(), [](auto x, auto y) { return std::atan2(x, y); });
}

}  // namespace tessera
