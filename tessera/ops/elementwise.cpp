// Elementwise ops: validate dtypes, promote, broadcast, build the node.
#include "tessera/ops/elementwise.h"

#include <cmath>

#include "tessera/backend/common/utils.h"
#include "tessera/ops/creation.h"
#include "tessera/ops/shape.h"
#include "tessera/primitives/elementwise.h"

namespace tessera {

namespace {

std::string msg(const char* name, const std::string& text) { return std::string("[") + name + "] " + text; }

// One input cast to `in_dtype`; the output has `out_dtype`.
template <typename Prim>
array unary(const array& a, Dtype in_dtype, Dtype out_dtype, StreamOrDevice s) {
  auto st = to_stream(s);
  return array(a.shape(), out_dtype, std::make_shared<Prim>(st), {astype(a, in_dtype, st)});
}

void no_complex(const array& a, const char* name) {
  if (is_complex(a.dtype())) throw std::invalid_argument(msg(name, "complex64 is not supported."));
}

// Float math: ints/bool promote to float32, complex is rejected.
template <typename Prim>
array float_unary(const array& a, const char* name, StreamOrDevice s) {
  no_complex(a, name);
  auto t = to_inexact(a.dtype());
  return unary<Prim>(a, t, t, s);
}

// Broadcasts a and b to a common shape and casts both to `compute`; the result has `out_dtype`.
template <typename Prim>
array binary(const array& a, const array& b, Dtype compute, Dtype out_dtype, const char* name, StreamOrDevice s) {
  auto st = to_stream(s);
  auto shape = broadcast_shapes(a.shape(), b.shape(), name);
  auto x = broadcast_to(astype(a, compute, st), shape, st);
  auto y = broadcast_to(astype(b, compute, st), shape, st);
  return array(std::move(shape), out_dtype, std::make_shared<Prim>(st), {x, y});
}

// Promoted dtype of a and b, rejecting complex.
Dtype promote_real(const array& a, const array& b, const char* name) {
  auto t = promote_types(a.dtype(), b.dtype());
  if (is_complex(t)) throw std::invalid_argument(msg(name, "complex64 is not supported."));
  return t;
}

Dtype promote_bitwise(const array& a, const array& b, const char* name) {
  auto t = promote_types(a.dtype(), b.dtype());
  if (!is_integral(t)) {
    throw std::invalid_argument(msg(name, "Bitwise operations require integer or bool inputs, got " +
                                              dtype_name(a.dtype()) + " and " + dtype_name(b.dtype()) + "."));
  }
  return t;
}

// Arithmetic ops that NumPy computes on bools as int8.
Dtype bool_as_int8(Dtype t) { return t == bool_ ? int8 : t; }

template <typename Prim>
array compare(const array& a, const array& b, const char* name, bool ordering, StreamOrDevice s) {
  auto t = ordering ? promote_real(a, b, name) : promote_types(a.dtype(), b.dtype());
  return binary<Prim>(a, b, t, bool_, name, s);
}

}  // namespace

// ---- Unary ----

array abs(const array& a, StreamOrDevice s) {
  if (a.dtype() == bool_ || is_unsigned(a.dtype())) return a;
  if (a.dtype() == complex64) return unary<Abs>(a, complex64, float32, s);
  return unary<Abs>(a, a.dtype(), a.dtype(), s);
}

array negative(const array& a, StreamOrDevice s) {
  if (a.dtype() == bool_) throw std::invalid_argument("[negative] Not supported for bool, use logical_not instead.");
  return unary<Negative>(a, a.dtype(), a.dtype(), s);
}

array sign(const array& a, StreamOrDevice s) {
  no_complex(a, "sign");
  if (a.dtype() == bool_) return a;
  return unary<Sign>(a, a.dtype(), a.dtype(), s);
}

array square(const array& a, StreamOrDevice s) { return unary<Square>(a, a.dtype(), a.dtype(), s); }

array exp(const array& a, StreamOrDevice s) { return float_unary<Exp>(a, "exp", s); }
array expm1(const array& a, StreamOrDevice s) { return float_unary<Expm1>(a, "expm1", s); }
array log(const array& a, StreamOrDevice s) { return float_unary<Log>(a, "log", s); }
array log1p(const array& a, StreamOrDevice s) { return float_unary<Log1p>(a, "log1p", s); }
array log2(const array& a, StreamOrDevice s) { return float_unary<Log2>(a, "log2", s); }
array log10(const array& a, StreamOrDevice s) { return float_unary<Log10>(a, "log10", s); }
array sqrt(const array& a, StreamOrDevice s) { return float_unary<Sqrt>(a, "sqrt", s); }
array rsqrt(const array& a, StreamOrDevice s) { return float_unary<Rsqrt>(a, "rsqrt", s); }
array reciprocal(const array& a, StreamOrDevice s) { return float_unary<Reciprocal>(a, "reciprocal", s); }
array sin(const array& a, StreamOrDevice s) { return float_unary<Sin>(a, "sin", s); }
array cos(const array& a, StreamOrDevice s) { return float_unary<Cos>(a, "cos", s); }
array tan(const array& a, StreamOrDevice s) { return float_unary<Tan>(a, "tan", s); }
array arcsin(const array& a, StreamOrDevice s) { return float_unary<ArcSin>(a, "arcsin", s); }
array arccos(const array& a, StreamOrDevice s) { return float_unary<ArcCos>(a, "arccos", s); }
array arctan(const array& a, StreamOrDevice s) { return float_unary<ArcTan>(a, "arctan", s); }
array sinh(const array& a, StreamOrDevice s) { return float_unary<Sinh>(a, "sinh", s); }
array cosh(const array& a, StreamOrDevice s) { return float_unary<Cosh>(a, "cosh", s); }
array tanh(const array& a, StreamOrDevice s) { return float_unary<Tanh>(a, "tanh", s); }
array arcsinh(const array& a, StreamOrDevice s) { return float_unary<ArcSinh>(a, "arcsinh", s); }
array arccosh(const array& a, StreamOrDevice s) { return float_unary<ArcCosh>(a, "arccosh", s); }
array arctanh(const array& a, StreamOrDevice s) { return float_unary<ArcTanh>(a, "arctanh", s); }
array sigmoid(const array& a, StreamOrDevice s) { return float_unary<Sigmoid>(a, "sigmoid", s); }
array erf(const array& a, StreamOrDevice s) { return float_unary<Erf>(a, "erf", s); }
array erfinv(const array& a, StreamOrDevice s) { return float_unary<ErfInv>(a, "erfinv", s); }

array floor(const array& a, StreamOrDevice s) {
  no_complex(a, "floor");
  if (is_integral(a.dtype())) return a;
  return unary<Floor>(a, a.dtype(), a.dtype(), s);
}
array ceil(const array& a, StreamOrDevice s) {
  no_complex(a, "ceil");
  if (is_integral(a.dtype())) return a;
  return unary<Ceil>(a, a.dtype(), a.dtype(), s);
}
array round(const array& a, int decimals, StreamOrDevice s) {
  no_complex(a, "round");
  if (is_integral(a.dtype())) {
    if (decimals >= 0) return a;
    // Negative decimals round integers to tens, hundreds, ...: go through float64.
    return astype(round(astype(a, float64, s), decimals, s), a.dtype(), s);
  }
  if (decimals == 0) return unary<Round>(a, a.dtype(), a.dtype(), s);
  array scale(std::pow(10.0, decimals), a.dtype());
  return divide(unary<Round>(multiply(a, scale, s), a.dtype(), a.dtype(), s), scale, s);
}
array round(const array& a, StreamOrDevice s) { return round(a, 0, s); }

namespace {
template <typename Prim>
array classify(const array& a, const char* name, bool integer_result, StreamOrDevice s) {
  no_complex(a, name);
  if (is_integral(a.dtype())) return full(a.shape(), array(integer_result), bool_, s);
  return unary<Prim>(a, a.dtype(), bool_, s);
}
}  // namespace

array isnan(const array& a, StreamOrDevice s) { return classify<IsNan>(a, "isnan", false, s); }
array isinf(const array& a, StreamOrDevice s) { return classify<IsInf>(a, "isinf", false, s); }
array isposinf(const array& a, StreamOrDevice s) { return classify<IsPosInf>(a, "isposinf", false, s); }
array isneginf(const array& a, StreamOrDevice s) { return classify<IsNegInf>(a, "isneginf", false, s); }
array isfinite(const array& a, StreamOrDevice s) { return classify<IsFinite>(a, "isfinite", true, s); }

array logical_not(const array& a, StreamOrDevice s) { return unary<LogicalNot>(a, bool_, bool_, s); }

array bitwise_invert(const array& a, StreamOrDevice s) {
  if (!is_integral(a.dtype())) {
    throw std::invalid_argument("[bitwise_invert] Bitwise inversion requires an integer or bool input, got " +
                                dtype_name(a.dtype()) + ".");
  }
  return unary<BitwiseInvert>(a, a.dtype(), a.dtype(), s);
}

array real(const array& a, StreamOrDevice s) {
  if (a.dtype() != complex64) return a;
  return unary<Real>(a, complex64, float32, s);
}
array imag(const array& a, StreamOrDevice s) {
  if (a.dtype() != complex64) return zeros_like(a, s);
  return unary<Imag>(a, complex64, float32, s);
}
array conjugate(const array& a, StreamOrDevice s) {
  if (a.dtype() != complex64) return a;
  return unary<Conjugate>(a, complex64, complex64, s);
}

// ---- Binary ----

array add(const array& a, const array& b, StreamOrDevice s) {
  auto t = promote_types(a.dtype(), b.dtype());
  return binary<Add>(a, b, t, t, "add", s);
}
array subtract(const array& a, const array& b, StreamOrDevice s) {
  auto t = promote_types(a.dtype(), b.dtype());
  if (t == bool_) throw std::invalid_argument("[subtract] Not supported for bool arrays.");
  return binary<Subtract>(a, b, t, t, "subtract", s);
}
array multiply(const array& a, const array& b, StreamOrDevice s) {
  auto t = promote_types(a.dtype(), b.dtype());
  return binary<Multiply>(a, b, t, t, "multiply", s);
}
array divide(const array& a, const array& b, StreamOrDevice s) {
  auto t = to_inexact(promote_types(a.dtype(), b.dtype()));
  return binary<Divide>(a, b, t, t, "divide", s);
}
array floor_divide(const array& a, const array& b, StreamOrDevice s) {
  auto t = bool_as_int8(promote_real(a, b, "floor_divide"));
  return binary<FloorDivide>(a, b, t, t, "floor_divide", s);
}
array remainder(const array& a, const array& b, StreamOrDevice s) {
  auto t = bool_as_int8(promote_real(a, b, "remainder"));
  return binary<Remainder>(a, b, t, t, "remainder", s);
}
array power(const array& a, const array& b, StreamOrDevice s) {
  auto t = bool_as_int8(promote_types(a.dtype(), b.dtype()));
  return binary<Power>(a, b, t, t, "power", s);
}
array maximum(const array& a, const array& b, StreamOrDevice s) {
  auto t = promote_real(a, b, "maximum");
  return binary<Maximum>(a, b, t, t, "maximum", s);
}
array minimum(const array& a, const array& b, StreamOrDevice s) {
  auto t = promote_real(a, b, "minimum");
  return binary<Minimum>(a, b, t, t, "minimum", s);
}
array logaddexp(const array& a, const array& b, StreamOrDevice s) {
  auto t = to_inexact(promote_real(a, b, "logaddexp"));
  return binary<LogAddExp>(a, b, t, t, "logaddexp", s);
}
array arctan2(const array& a, const array& b, StreamOrDevice s) {
  auto t = to_inexact(promote_real(a, b, "arctan2"));
  return binary<ArcTan2>(a, b, t, t, "arctan2", s);
}

array equal(const array& a, const array& b, StreamOrDevice s) { return compare<Equal>(a, b, "equal", false, s); }
array not_equal(const array& a, const array& b, StreamOrDevice s) {
  return compare<NotEqual>(a, b, "not_equal", false, s);
}
array less(const array& a, const array& b, StreamOrDevice s) { return compare<Less>(a, b, "less", true, s); }
array less_equal(const array& a, const array& b, StreamOrDevice s) {
  return compare<LessEqual>(a, b, "less_equal", true, s);
}
array greater(const array& a, const array& b, StreamOrDevice s) { return compare<Greater>(a, b, "greater", true, s); }
array greater_equal(const array& a, const array& b, StreamOrDevice s) {
  return compare<GreaterEqual>(a, b, "greater_equal", true, s);
}

array logical_and(const array& a, const array& b, StreamOrDevice s) {
  return binary<LogicalAnd>(a, b, bool_, bool_, "logical_and", s);
}
array logical_or(const array& a, const array& b, StreamOrDevice s) {
  return binary<LogicalOr>(a, b, bool_, bool_, "logical_or", s);
}
array bitwise_and(const array& a, const array& b, StreamOrDevice s) {
  auto t = promote_bitwise(a, b, "bitwise_and");
  return binary<BitwiseAnd>(a, b, t, t, "bitwise_and", s);
}
array bitwise_or(const array& a, const array& b, StreamOrDevice s) {
  auto t = promote_bitwise(a, b, "bitwise_or");
  return binary<BitwiseOr>(a, b, t, t, "bitwise_or", s);
}
array bitwise_xor(const array& a, const array& b, StreamOrDevice s) {
  auto t = promote_bitwise(a, b, "bitwise_xor");
  return binary<BitwiseXor>(a, b, t, t, "bitwise_xor", s);
}
array left_shift(const array& a, const array& b, StreamOrDevice s) {
  auto t = bool_as_int8(promote_bitwise(a, b, "left_shift"));
  return binary<LeftShift>(a, b, t, t, "left_shift", s);
}
array right_shift(const array& a, const array& b, StreamOrDevice s) {
  auto t = bool_as_int8(promote_bitwise(a, b, "right_shift"));
  return binary<RightShift>(a, b, t, t, "right_shift", s);
}

array where(const array& condition, const array& x, const array& y, StreamOrDevice s) {
  auto st = to_stream(s);
  auto t = promote_types(x.dtype(), y.dtype());
  auto shape = broadcast_shapes(broadcast_shapes(condition.shape(), x.shape(), "where"), y.shape(), "where");
  auto c = broadcast_to(astype(condition, bool_, st), shape, st);
  auto xb = broadcast_to(astype(x, t, st), shape, st);
  auto yb = broadcast_to(astype(y, t, st), shape, st);
  return array(std::move(shape), t, std::make_shared<Select>(st), {c, xb, yb});
}

array clip(const array& a, const std::optional<array>& a_min, const std::optional<array>& a_max, StreamOrDevice s) {
  if (!a_min && !a_max) throw std::invalid_argument("[clip] At most one of a_min and a_max may be None.");
  array out = a;
  if (a_min) out = maximum(out, *a_min, s);
  if (a_max) out = minimum(out, *a_max, s);
  return out;
}

// ---- Operators ----

array operator-(const array& a) { return negative(a); }
array operator!(const array& a) { return logical_not(a); }
array operator~(const array& a) { return bitwise_invert(a); }
array operator+(const array& a, const array& b) { return add(a, b); }
array operator-(const array& a, const array& b) { return subtract(a, b); }
array operator*(const array& a, const array& b) { return multiply(a, b); }
array operator/(const array& a, const array& b) { return divide(a, b); }
array operator%(const array& a, const array& b) { return remainder(a, b); }
array operator==(const array& a, const array& b) { return equal(a, b); }
array operator!=(const array& a, const array& b) { return not_equal(a, b); }
array operator<(const array& a, const array& b) { return less(a, b); }
array operator<=(const array& a, const array& b) { return less_equal(a, b); }
array operator>(const array& a, const array& b) { return greater(a, b); }
array operator>=(const array& a, const array& b) { return greater_equal(a, b); }
array operator&&(const array& a, const array& b) { return logical_and(a, b); }
array operator||(const array& a, const array& b) { return logical_or(a, b); }
array operator&(const array& a, const array& b) { return bitwise_and(a, b); }
array operator|(const array& a, const array& b) { return bitwise_or(a, b); }
array operator^(const array& a, const array& b) { return bitwise_xor(a, b); }
array operator<<(const array& a, const array& b) { return left_shift(a, b); }
array operator>>(const array& a, const array& b) { return right_shift(a, b); }

}  // namespace tessera
