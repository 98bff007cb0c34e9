// Bindings for tessera/ops/elementwise.h: unary and binary elementwise ops, where, clip, comparisons.
#include "utils.h"

using namespace tessera;

#define TX_UNARY(NAME, DOC) \
  m.def(#NAME, [](const ArrayLike& a, StreamOrDevice s) { return NAME(txpy::to_array(a), s); }, "a"_a, TX_STREAM, DOC)

#define TX_BINARY(NAME, DOC)                                                        \
  m.def(#NAME,                                                                       \
        [](const ArrayLike& a, const ArrayLike& b, StreamOrDevice s) {              \
          auto [x, y] = txpy::to_arrays(a, b);                                       \
          return NAME(x, y, s);                                                      \
        },                                                                           \
        "a"_a, "b"_a, TX_STREAM, DOC)

namespace {

array close_mask(const array& a, const array& b, double rtol, double atol, bool equal_nan) {
  Dtype d = promote_types(a.dtype(), b.dtype());
  Dtype f = is_inexact(d) ? d : float32;
  array x = astype(a, f), y = astype(b, f);
  array tol = add(array(atol, float64), multiply(array(rtol, float64), abs(y)));
  array out = logical_or(equal(x, y), less_equal(abs(subtract(x, y)), astype(tol, abs(y).dtype())));
  if (equal_nan) out = logical_or(out, logical_and(isnan(x), isnan(y)));
  return out;
}

}  // namespace

void init_elementwise(nb::module_& m) {
  TX_UNARY(abs, "Elementwise absolute value (magnitude for complex).");
  TX_UNARY(negative, "Elementwise negation.");
  TX_UNARY(sign, "Elementwise sign (-1, 0, 1).");
  TX_UNARY(square, "Elementwise square.");
  TX_UNARY(exp, "Elementwise exponential.");
  TX_UNARY(expm1, "Elementwise exp(a) - 1.");
  TX_UNARY(log, "Elementwise natural logarithm.");
  TX_UNARY(log1p, "Elementwise log(1 + a).");
  TX_UNARY(log2, "Elementwise base-2 logarithm.");
  TX_UNARY(log10, "Elementwise base-10 logarithm.");
  TX_UNARY(sqrt, "Elementwise square root.");
  TX_UNARY(rsqrt, "Elementwise reciprocal square root.");
  TX_UNARY(reciprocal, "Elementwise 1 / a.");
  TX_UNARY(sin, "Elementwise sine.");
  TX_UNARY(cos, "Elementwise cosine.");
  TX_UNARY(tan, "Elementwise tangent.");
  TX_UNARY(arcsin, "Elementwise inverse sine.");
  TX_UNARY(arccos, "Elementwise inverse cosine.");
  TX_UNARY(arctan, "Elementwise inverse tangent.");
  TX_UNARY(sinh, "Elementwise hyperbolic sine.");
  TX_UNARY(cosh, "Elementwise hyperbolic cosine.");
  TX_UNARY(tanh, "Elementwise hyperbolic tangent.");
  TX_UNARY(arcsinh, "Elementwise inverse hyperbolic sine.");
  TX_UNARY(arccosh, "Elementwise inverse hyperbolic cosine.");
  TX_UNARY(arctanh, "Elementwise inverse hyperbolic tangent.");
  TX_UNARY(sigmoid, "Elementwise logistic sigmoid.");
  TX_UNARY(erf, "Elementwise error function.");
  TX_UNARY(erfinv, "Elementwise inverse error function.");
  TX_UNARY(floor, "Elementwise floor.");
  TX_UNARY(ceil, "Elementwise ceiling.");
  TX_UNARY(isnan, "True where a is NaN.");
  TX_UNARY(isinf, "True where a is +-inf.");
  TX_UNARY(isposinf, "True where a is +inf.");
  TX_UNARY(isneginf, "True where a is -inf.");
  TX_UNARY(isfinite, "True where a is finite.");
  TX_UNARY(logical_not, "Elementwise logical not.");
  TX_UNARY(bitwise_invert, "Elementwise bitwise not (integers and bool).");
  TX_UNARY(real, "The real part.");
  TX_UNARY(imag, "The imaginary part.");
  TX_UNARY(conjugate, "The complex conjugate.");
  m.def("conj", [](const ArrayLike& a, StreamOrDevice s) { return conjugate(txpy::to_array(a), s); }, "a"_a, TX_STREAM,
        "The complex conjugate.");
  m.def("round", [](const ArrayLike& a, int decimals, StreamOrDevice s) { return round(txpy::to_array(a), decimals, s); },
        "a"_a, "decimals"_a = 0, TX_STREAM, "Rounds half to even at ``decimals`` digits.");

  TX_BINARY(add, "Elementwise a + b with broadcasting.");
  TX_BINARY(subtract, "Elementwise a - b with broadcasting.");
  TX_BINARY(multiply, "Elementwise a * b with broadcasting.");
  TX_BINARY(divide, "Elementwise true division a / b.");
  TX_BINARY(floor_divide, "Elementwise floor division a // b.");
  TX_BINARY(remainder, "Elementwise remainder a % b (sign of b).");
  TX_BINARY(power, "Elementwise a ** b.");
  TX_BINARY(maximum, "Elementwise maximum (NaN propagates).");
  TX_BINARY(minimum, "Elementwise minimum (NaN propagates).");
  TX_BINARY(logaddexp, "Elementwise log(exp(a) + exp(b)), computed stably.");
  TX_BINARY(arctan2, "Elementwise arctan(a / b) with the quadrant of (b, a).");
  TX_BINARY(equal, "Elementwise a == b.");
  TX_BINARY(not_equal, "Elementwise a != b.");
  TX_BINARY(less, "Elementwise a < b.");
  TX_BINARY(less_equal, "Elementwise a <= b.");
  TX_BINARY(greater, "Elementwise a > b.");
  TX_BINARY(greater_equal, "Elementwise a >= b.");
  TX_BINARY(logical_and, "Elementwise logical and.");
  TX_BINARY(logical_or, "Elementwise logical or.");
  TX_BINARY(bitwise_and, "Elementwise bitwise and.");
  TX_BINARY(bitwise_or, "Elementwise bitwise or.");
  TX_BINARY(bitwise_xor, "Elementwise bitwise xor.");
  TX_BINARY(left_shift, "Elementwise a << b.");
  TX_BINARY(right_shift, "Elementwise a >> b.");
  m.def("divmod",
        [](const ArrayLike& a, const ArrayLike& b, StreamOrDevice s) {
          auto [x, y] = txpy::to_arrays(a, b);
          return std::make_pair(floor_divide(x, y, s), remainder(x, y, s));
        },
        "a"_a, "b"_a, TX_STREAM, "(a // b, a % b).");

  m.def("where",
        [](const ArrayLike& cond, const ArrayLike& x, const ArrayLike& y, StreamOrDevice s) {
          auto [xx, yy] = txpy::to_arrays(x, y);
          return where(txpy::to_array(cond), xx, yy, s);
        },
        "condition"_a, "x"_a, "y"_a, TX_STREAM, "x where condition is true, else y (broadcast together).");
  m.def("clip",
        [](const ArrayLike& a, std::optional<ArrayLike> lo, std::optional<ArrayLike> hi, StreamOrDevice s) {
          array x = txpy::to_array(a);
          std::optional<array> l, h;
          if (lo) l = txpy::to_arrays(nb::cast(x), lo->obj).second;
          if (hi) h = txpy::to_arrays(nb::cast(x), hi->obj).second;
          return clip(x, l, h, s);
        },
        "a"_a, "a_min"_a.none(), "a_max"_a.none(), TX_STREAM, "Limits a to [a_min, a_max] (either may be None).");
  m.def("isclose",
        [](const ArrayLike& a, const ArrayLike& b, double rtol, double atol, bool equal_nan, StreamOrDevice) {
          auto [x, y] = txpy::to_arrays(a, b);
          return close_mask(x, y, rtol, atol, equal_nan);
        },
        "a"_a, "b"_a, "rtol"_a = 1e-5, "atol"_a = 1e-8, nb::kw_only(), "equal_nan"_a = false, "stream"_a = nb::none(),
        "True where |a - b| <= atol + rtol * |b|.");
  m.def("allclose",
        [](const ArrayLike& a, const ArrayLike& b, double rtol, double atol, bool equal_nan, StreamOrDevice) {
          auto [x, y] = txpy::to_arrays(a, b);
          return all(close_mask(x, y, rtol, atol, equal_nan));
        },
        "a"_a, "b"_a, "rtol"_a = 1e-5, "atol"_a = 1e-8, nb::kw_only(), "equal_nan"_a = false, "stream"_a = nb::none(),
        "True (a bool scalar array) when all elements are close.");
  m.def("array_equal",
        [](const ArrayLike& a, const ArrayLike& b, bool equal_nan, StreamOrDevice s) {
          auto [x, y] = txpy::to_arrays(a, b);
          if (x.shape() != y.shape()) return array(false);
          array eq = equal(x, y, s);
          if (equal_nan) eq = logical_or(eq, logical_and(isnan(x), isnan(y)));
          return all(eq);
        },
        "a"_a, "b"_a, "equal_nan"_a = false, TX_STREAM, "True when a and b have the same shape and values.");
}
