// vjp/jvp rules of the elementwise primitives: derivative of each unary/binary op written with ops.
#include <cmath>

#include "tessera/primitives/elementwise.h"
#include "tessera/transforms/rules_common.h"

namespace tessera {

using rules::scal;

namespace {
array mask_of(const array& b, const array& like) { return astype(b, like.dtype()); }
}  // namespace

// DERIV: dy/dx written with x (input) and y (output).
#define TESSERA_UNARY_GRAD(NAME, FN, DERIV)                                                                      \
  std::vector<array> NAME::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,         \
                               const std::vector<int>&, const std::vector<array>& outputs) {                   \
    const array& x = primals[0];                                                                                \
    [[maybe_unused]] const array& y = outputs[0];                                                               \
    if (!rules::differentiable(x)) return {zeros_like(x)};                                                      \
    return {multiply(cotangents[0], DERIV)};                                                                    \
  }                                                                                                             \
  std::vector<array> NAME::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,           \
                               const std::vector<int>&) {                                                      \
    const array& x = primals[0];                                                                                \
    [[maybe_unused]] array y = FN(x);                                                                           \
    if (!rules::differentiable(x)) return {zeros_like(y)};                                                      \
    return {multiply(tangents[0], DERIV)};                                                                      \
  }

// Piecewise constant or non-differentiable outputs: zero gradients.
#define TESSERA_UNARY_ZERO(NAME, FN)                                                                             \
  std::vector<array> NAME::vjp(const std::vector<array>& primals, const std::vector<array>&,                   \
                               const std::vector<int>&, const std::vector<array>&) {                           \
    return {zeros_like(primals[0])};                                                                            \
  }                                                                                                             \
  std::vector<array> NAME::jvp(const std::vector<array>& primals, const std::vector<array>&,                   \
                               const std::vector<int>&) {                                                      \
    return {zeros_like(FN(primals[0]))};                                                                        \
  }

TESSERA_UNARY_GRAD(Abs, abs, sign(x))
TESSERA_UNARY_GRAD(Negative, negative, scal(-1, x))
TESSERA_UNARY_ZERO(Sign, sign)
TESSERA_UNARY_GRAD(Square, square, multiply(scal(2, x), x))
TESSERA_UNARY_GRAD(Exp, exp, y)
TESSERA_UNARY_GRAD(Expm1, expm1, add(y, scal(1, y)))
TESSERA_UNARY_GRAD(Log, log, reciprocal(x))
TESSERA_UNARY_GRAD(Log1p, log1p, reciprocal(add(x, scal(1, x))))
TESSERA_UNARY_GRAD(Log2, log2, reciprocal(multiply(x, scal(std::log(2.0), x))))
TESSERA_UNARY_GRAD(Log10, log10, reciprocal(multiply(x, scal(std::log(10.0), x))))
TESSERA_UNARY_GRAD(Sqrt, sqrt, divide(scal(0.5, y), y))
TESSERA_UNARY_GRAD(Rsqrt, rsqrt, multiply(scal(-0.5, y), divide(y, x)))
TESSERA_UNARY_GRAD(Reciprocal, reciprocal, negative(square(y)))
TESSERA_UNARY_GRAD(Sin, sin, cos(x))
TESSERA_UNARY_GRAD(Cos, cos, negative(sin(x)))
TESSERA_UNARY_GRAD(Tan, tan, add(scal(1, y), square(y)))
TESSERA_UNARY_GRAD(ArcSin, arcsin, rsqrt(subtract(scal(1, x), square(x))))
TESSERA_UNARY_GRAD(ArcCos, arccos, negative(rsqrt(subtract(scal(1, x), square(x)))))
TESSERA_UNARY_GRAD(ArcTan, arctan, reciprocal(add(scal(1, x), square(x))))
TESSERA_UNARY_GRAD(Sinh, sinh, cosh(x))
TESSERA_UNARY_GRAD(Cosh, cosh, sinh(x))
TESSERA_UNARY_GRAD(Tanh, tanh, subtract(scal(1, y), square(y)))
TESSERA_UNARY_GRAD(ArcSinh, arcsinh, rsqrt(add(square(x), scal(1, x))))
TESSERA_UNARY_GRAD(ArcCosh, arccosh, rsqrt(subtract(square(x), scal(1, x))))
TESSERA_UNARY_GRAD(ArcTanh, arctanh, reciprocal(subtract(scal(1, x), square(x))))
TESSERA_UNARY_GRAD(Sigmoid, sigmoid, multiply(y, subtract(scal(1, y), y)))
TESSERA_UNARY_GRAD(Erf, erf, multiply(scal(2.0 / std::sqrt(M_PI), x), exp(negative(square(x)))))
TESSERA_UNARY_GRAD(ErfInv, erfinv, multiply(scal(std::sqrt(M_PI) / 2.0, y), exp(square(y))))
TESSERA_UNARY_ZERO(Floor, floor)
TESSERA_UNARY_ZERO(Ceil, ceil)
TESSERA_UNARY_ZERO(Round, round)
TESSERA_UNARY_ZERO(IsNan, isnan)
TESSERA_UNARY_ZERO(IsInf, isinf)
TESSERA_UNARY_ZERO(IsPosInf, isposinf)
TESSERA_UNARY_ZERO(IsNegInf, isneginf)
TESSERA_UNARY_ZERO(IsFinite, isfinite)
TESSERA_UNARY_ZERO(LogicalNot, logical_not)
TESSERA_UNARY_ZERO(BitwiseInvert, bitwise_invert)

// Complex parts (MLX's conventions).
std::vector<array> Real::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                             const std::vector<int>&, const std::vector<array>&) {
  return {astype(cotangents[0], primals[0].dtype())};
}
std::vector<array> Real::jvp(const std::vector<array>&, const std::vector<array>& tangents, const std::vector<int>&) {
  return {real(tangents[0])};
}
std::vector<array> Imag::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                             const std::vector<int>&, const std::vector<array>&) {
  if (!is_complex(primals[0].dtype())) return {zeros_like(primals[0])};
  return {multiply(array(complex64_t(0.0f, 1.0f)), astype(cotangents[0], complex64))};
}
std::vector<array> Imag::jvp(const std::vector<array>&, const std::vector<array>& tangents, const std::vector<int>&) {
  return {imag(tangents[0])};
}
std::vector<array> Conjugate::vjp(const std::vector<array>&, const std::vector<array>& cotangents,
                                  const std::vector<int>&, const std::vector<array>&) {
  return {conjugate(cotangents[0])};
}
std::vector<array> Conjugate::jvp(const std::vector<array>&, const std::vector<array>& tangents,
                                  const std::vector<int>&) {
  return {conjugate(tangents[0])};
}

// D0/D1: partial derivatives of out w.r.t. x and y, written with x, y and out.
#define TESSERA_BINARY_GRAD(NAME, FN, D0, D1)                                                                    \
  std::vector<array> NAME::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,         \
                               const std::vector<int>& argnums, const std::vector<array>& outputs) {           \
    const array& x = primals[0];                                                                                \
    [[maybe_unused]] const array& y = primals[1];                                                               \
    [[maybe_unused]] const array& out = outputs[0];                                                             \
    if (!rules::differentiable(x)) return rules::zero_cotangents(primals, argnums);                             \
    const array& c = cotangents[0];                                                                             \
    std::vector<array> r;                                                                                       \
    for (int a : argnums) r.push_back(a == 0 ? multiply(c, D0) : multiply(c, D1));                              \
    return r;                                                                                                   \
  }                                                                                                             \
  std::vector<array> NAME::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,           \
                               const std::vector<int>& argnums) {                                              \
    const array& x = primals[0];                                                                                \
    const array& y = primals[1];                                                                                \
    [[maybe_unused]] array out = FN(x, y);                                                                      \
    if (!rules::differentiable(x)) return {zeros_like(out)};                                                    \
    std::optional<array> r;                                                                                     \
    for (size_t j = 0; j < argnums.size(); ++j) {                                                               \
      array t = argnums[j] == 0 ? multiply(tangents[j], D0) : multiply(tangents[j], D1);                        \
      r = r ? add(*r, t) : t;                                                                                   \
    }                                                                                                           \
    return {*r};                                                                                                \
  }

#define TESSERA_BINARY_ZERO(NAME, FN)                                                                            \
  std::vector<array> NAME::vjp(const std::vector<array>& primals, const std::vector<array>&,                   \
                               const std::vector<int>& argnums, const std::vector<array>&) {                   \
    return rules::zero_cotangents(primals, argnums);                                                            \
  }                                                                                                             \
  std::vector<array> NAME::jvp(const std::vector<array>& primals, const std::vector<array>&,                   \
                               const std::vector<int>&) {                                                      \
    return {zeros_like(FN(primals[0], primals[1]))};                                                            \
  }

TESSERA_BINARY_GRAD(Add, add, scal(1, x), scal(1, x))
TESSERA_BINARY_GRAD(Subtract, subtract, scal(1, x), scal(-1, x))
TESSERA_BINARY_GRAD(Multiply, multiply, y, x)
TESSERA_BINARY_GRAD(Divide, divide, reciprocal(y), negative(divide(out, y)))
TESSERA_BINARY_ZERO(FloorDivide, floor_divide)
TESSERA_BINARY_GRAD(Remainder, remainder, scal(1, x), negative(floor(divide(x, y))))
TESSERA_BINARY_GRAD(Power, power, multiply(y, power(x, subtract(y, scal(1, y)))),
                    multiply(out, where(greater(x, scal(0, x)), log(where(greater(x, scal(0, x)), x, scal(1, x))),
                                        scal(0, x))))
TESSERA_BINARY_GRAD(Maximum, maximum, mask_of(greater(x, y), x), mask_of(less_equal(x, y), x))
TESSERA_BINARY_GRAD(Minimum, minimum, mask_of(less(x, y), x), mask_of(greater_equal(x, y), x))
TESSERA_BINARY_GRAD(LogAddExp, logaddexp, sigmoid(subtract(x, y)), sigmoid(subtract(y, x)))
TESSERA_BINARY_GRAD(ArcTan2, arctan2, divide(y, add(square(x), square(y))),
                    negative(divide(x, add(square(x), square(y)))))
TESSERA_BINARY_ZERO(Equal, equal)
TESSERA_BINARY_ZERO(NotEqual, not_equal)
TESSERA_BINARY_ZERO(Less, less)
TESSERA_BINARY_ZERO(LessEqual, less_equal)
TESSERA_BINARY_ZERO(Greater, greater)
TESSERA_BINARY_ZERO(GreaterEqual, greater_equal)
TESSERA_BINARY_ZERO(LogicalAnd, logical_and)
TESSERA_BINARY_ZERO(LogicalOr, logical_or)
TESSERA_BINARY_ZERO(BitwiseAnd, bitwise_and)
TESSERA_BINARY_ZERO(BitwiseOr, bitwise_or)
TESSERA_BINARY_ZERO(BitwiseXor, bitwise_xor)
TESSERA_BINARY_ZERO(LeftShift, left_shift)
TESSERA_BINARY_ZERO(RightShift, right_shift)

// Select(cond, x, y).
std::vector<array> Select::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                               const std::vector<int>& argnums, const std::vector<array>&) {
  const array& c = cotangents[0];
  auto z = zeros_like(c);
  std::vector<array> r;
  for (int a : argnums) {
    if (a == 0) r.push_back(zeros_like(primals[0]));
    else if (a == 1) r.push_back(where(primals[0], c, z));
    else r.push_back(where(primals[0], z, c));
  }
  return r;
}
std::vector<array> Select::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                               const std::vector<int>& argnums) {
  std::optional<array> tx, ty;
  for (size_t j = 0; j < argnums.size(); ++j) {
    if (argnums[j] == 1) tx = tangents[j];
    if (argnums[j] == 2) ty = tangents[j];
  }
  if (!tx && !ty) return {zeros_like(primals[1])};
  auto z = zeros_like(tx ? *tx : *ty);
  return {where(primals[0], tx ? *tx : z, ty ? *ty : z)};
}

}  // namespace tessera
