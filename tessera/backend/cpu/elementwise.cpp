// CPU evaluation of elementwise primitives through the unary/binary kernel templates.
#include <cmath>

#include "tessera/backend/cpu/binary.h"
#include "tessera/backend/cpu/unary.h"
#include "tessera/primitives/elementwise.h"

namespace tessera {

namespace {

// Runs a unary functor over every dtype the functor accepts; computes 16-bit floats in float.
template <typename Op>
void unary_same_type(const array& in, array& out, Op op) {
  dispatch_dtype(in.dtype(), [&](auto t) {
    using T = decltype(t);
    cpu::unary_kernel<T, T>(in, out, [&](T x) { return T(op(static_cast<acc_t<T>>(x))); });
  });
}

template <typename Op>
void binary_same_type(const array& a, const array& b, array& out, Op op) {
  dispatch_dtype(a.dtype(), [&](auto t) {
    using T = decltype(t);
    cpu::binary_kernel<T, T>(a, b, out, [&](T x, T y) {
      return T(op(static_cast<acc_t<T>>(x), static_cast<acc_t<T>>(y)));
    });
  });
}

}  // namespace

void Exp::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  unary_same_type(in[0], out[0], [](auto x) {
    if constexpr (std::is_same_v<decltype(x), bool>) return x;
    else return decltype(x)(std::exp(x));
  });
}

void Negative::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  unary_same_type(in[0], out[0], [](auto x) {
    if constexpr (std::is_same_v<decltype(x), bool>) return x;
    else return decltype(x)(-x);
  });
}

void Add::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  binary_same_type(in[0], in[1], out[0], [](auto x, auto y) { return decltype(x)(x + y); });
}
void Subtract::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  binary_same_type(in[0], in[1], out[0], [](auto x, auto y) { return decltype(x)(x - y); });
}
void Multiply::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  binary_same_type(in[0], in[1], out[0], [](auto x, auto y) {
    if constexpr (std::is_same_v<decltype(x), bool>) return bool(x && y);
    else return decltype(x)(x * y);
  });
}
void Divide::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  binary_same_type(in[0], in[1], out[0], [](auto x, auto y) {
    if constexpr (std::is_same_v<decltype(x), bool>) return bool(x);
    else return decltype(x)(x / y);
  });
}

}  // namespace tessera
