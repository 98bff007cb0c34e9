// vmap rules of the elementwise primitives: batch axes move to the front and the op is applied again.
#include "tessera/primitives/elementwise.h"
#include "tessera/transforms/rules_common.h"

namespace tessera {

namespace {
// Mapped inputs get their batch axis first; unmapped ones broadcast against it (they already have
// the unbatched output shape).
std::vector<array> front(const std::vector<array>& inputs, const std::vector<int>& axes) {
  std::vector<array> out;
  for (size_t i = 0; i < inputs.size(); ++i) {
    out.push_back(axes[i] >= 0 ? moveaxis(inputs[i], axes[i], 0) : inputs[i]);
  }
  return out;
}
}  // namespace

#define TESSERA_UNARY_VMAP(NAME, FN)                                                                  \
  std::pair<std::vector<array>, std::vector<int>> NAME::vmap(const std::vector<array>& inputs,       \
                                                             const std::vector<int>& axes) {         \
    return {{FN(inputs[0])}, {axes[0]}};                                                              \
  }
#define TESSERA_BINARY_VMAP(NAME, FN)                                                                 \
  std::pair<std::vector<array>, std::vector<int>> NAME::vmap(const std::vector<array>& inputs,       \
                                                             const std::vector<int>& axes) {         \
    auto in = front(inputs, axes);                                                                    \
    return {{FN(in[0], in[1])}, {0}};                                                                 \
  }

TESSERA_UNARY_VMAP(Abs, abs)
TESSERA_UNARY_VMAP(Negative, negative)
TESSERA_UNARY_VMAP(Sign, sign)
TESSERA_UNARY_VMAP(Square, square)
TESSERA_UNARY_VMAP(Exp, exp)
TESSERA_UNARY_VMAP(Expm1, expm1)
TESSERA_UNARY_VMAP(Log, log)
TESSERA_UNARY_VMAP(Log1p, log1p)
TESSERA_UNARY_VMAP(Log2, log2)
TESSERA_UNARY_VMAP(Log10, log10)
TESSERA_UNARY_VMAP(Sqrt, sqrt)
TESSERA_UNARY_VMAP(Rsqrt, rsqrt)
TESSERA_UNARY_VMAP(Reciprocal, reciprocal)
TESSERA_UNARY_VMAP(Sin, sin)
TESSERA_UNARY_VMAP(Cos, cos)
TESSERA_UNARY_VMAP(Tan, tan)
TESSERA_UNARY_VMAP(ArcSin, arcsin)
TESSERA_UNARY_VMAP(ArcCos, arccos)
TESSERA_UNARY_VMAP(ArcTan, arctan)
TESSERA_UNARY_VMAP(Sinh, sinh)
TESSERA_UNARY_VMAP(Cosh, cosh)
TESSERA_UNARY_VMAP(Tanh, tanh)
TESSERA_UNARY_VMAP(ArcSinh, arcsinh)
TESSERA_UNARY_VMAP(ArcCosh, arccosh)
TESSERA_UNARY_VMAP(ArcTanh, arctanh)
TESSERA_UNARY_VMAP(Sigmoid, sigmoid)
TESSERA_UNARY_VMAP(Erf, erf)
TESSERA_UNARY_VMAP(ErfInv, erfinv)
TESSERA_UNARY_VMAP(Floor, floor)
TESSERA_UNARY_VMAP(Ceil, ceil)
TESSERA_UNARY_VMAP(Round, round)
TESSERA_UNARY_VMAP(IsNan, isnan)
TESSERA_UNARY_VMAP(IsInf, isinf)
TESSERA_UNARY_VMAP(IsPosInf, isposinf)
TESSERA_UNARY_VMAP(IsNegInf, isneginf)
TESSERA_UNARY_VMAP(IsFinite, isfinite)
TESSERA_UNARY_VMAP(LogicalNot, logical_not)
TESSERA_UNARY_VMAP(BitwiseInvert, bitwise_invert)
TESSERA_UNARY_VMAP(Real, real)
TESSERA_UNARY_VMAP(Imag, imag)
TESSERA_UNARY_VMAP(Conjugate, conjugate)

TESSERA_BINARY_VMAP(Add, add)
TESSERA_BINARY_VMAP(Subtract, subtract)
TESSERA_BINARY_VMAP(Multiply, multiply)
TESSERA_BINARY_VMAP(Divide, divide)
TESSERA_BINARY_VMAP(FloorDivide, floor_divide)
TESSERA_BINARY_VMAP(Remainder, remainder)
TESSERA_BINARY_VMAP(Power, power)
TESSERA_BINARY_VMAP(Maximum, maximum)
TESSERA_BINARY_VMAP(Minimum, minimum)
TESSERA_BINARY_VMAP(LogAddExp, logaddexp)
TESSERA_BINARY_VMAP(ArcTan2, arctan2)
TESSERA_BINARY_VMAP(Equal, equal)
TESSERA_BINARY_VMAP(NotEqual, not_equal)
TESSERA_BINARY_VMAP(Less, less)
TESSERA_BINARY_VMAP(LessEqual, less_equal)
TESSERA_BINARY_VMAP(Greater, greater)
TESSERA_BINARY_VMAP(GreaterEqual, greater_equal)
TESSERA_BINARY_VMAP(LogicalAnd, logical_and)
TESSERA_BINARY_VMAP(LogicalOr, logical_or)
TESSERA_BINARY_VMAP(BitwiseAnd, bitwise_and)
TESSERA_BINARY_VMAP(BitwiseOr, bitwise_or)
TESSERA_BINARY_VMAP(BitwiseXor, bitwise_xor)
TESSERA_BINARY_VMAP(LeftShift, left_shift)
TESSERA_BINARY_VMAP(RightShift, right_shift)

std::pair<std::vector<array>, std::vector<int>> Select::vmap(const std::vector<array>& inputs,
                                                            const std::vector<int>& axes) {
  auto in = front(inputs, axes);
  return {{where(in[0], in[1], in[2])}, {0}};
}

}  // namespace tessera
