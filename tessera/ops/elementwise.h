// Elementwise ops with NumPy broadcasting and type promotion (MLX names and semantics).
#pragma once

#include <optional>

#include "tessera/array.h"
#include "tessera/device.h"

namespace tessera {

// Unary arithmetic (any real dtype; abs/negative/square also complex64).
array abs(const array& a, StreamOrDevice s = {});       // complex64 -> float32 magnitude
array negative(const array& a, StreamOrDevice s = {});  // not for bool
array sign(const array& a, StreamOrDevice s = {});      // -1, 0, 1 (NaN stays NaN)
array square(const array& a, StreamOrDevice s = {});

// Unary float math: integer and bool inputs are promoted to float32 (to_inexact).
array exp(const array& a, StreamOrDevice s = {});
array expm1(const array& a, StreamOrDevice s = {});
array log(const array& a, StreamOrDevice s = {});
array log1p(const array& a, StreamOrDevice s = {});
array log2(const array& a, StreamOrDevice s = {});
array log10(const array& a, StreamOrDevice s = {});
array sqrt(const array& a, StreamOrDevice s = {});
array rsqrt(const array& a, StreamOrDevice s = {});
array reciprocal(const array& a, StreamOrDevice s = {});
array sin(const array& a, StreamOrDevice s = {});
array cos(const array& a, StreamOrDevice s = {});
array tan(const array& a, StreamOrDevice s = {});
array arcsin(const array& a, StreamOrDevice s = {});
array arccos(const array& a, StreamOrDevice s = {});
array arctan(const array& a, StreamOrDevice s = {});
array sinh(const array& a, StreamOrDevice s = {});
array cosh(const array& a, StreamOrDevice s = {});
array tanh(const array& a, StreamOrDevice s = {});
array arcsinh(const array& a, StreamOrDevice s = {});
array arccosh(const array& a, StreamOrDevice s = {});
array arctanh(const array& a, StreamOrDevice s = {});
array sigmoid(const array& a, StreamOrDevice s = {});
array erf(const array& a, StreamOrDevice s = {});
array erfinv(const array& a, StreamOrDevice s = {});

// Rounding: integer inputs are returned unchanged; round is half to even at `decimals` digits.
array floor(const array& a, StreamOrDevice s = {});
array ceil(const array& a, StreamOrDevice s = {});
array round(const array& a, int decimals, StreamOrDevice s = {});
array round(const array& a, StreamOrDevice s = {});

// Classification (bool results; integers are never NaN/inf).
array isnan(const array& a, StreamOrDevice s = {});
array isinf(const array& a, StreamOrDevice s = {});
array isposinf(const array& a, StreamOrDevice s = {});
array isneginf(const array& a, StreamOrDevice s = {});
array isfinite(const array& a, StreamOrDevice s = {});

// Logical/bitwise not.
array logical_not(const array& a, StreamOrDevice s = {});     // any dtype -> bool
array bitwise_invert(const array& a, StreamOrDevice s = {});  // integers and bool only

// Complex parts (real inputs: real/conjugate are the identity, imag is zeros).
array real(const array& a, StreamOrDevice s = {});
array imag(const array& a, StreamOrDevice s = {});
array conjugate(const array& a, StreamOrDevice s = {});

// Binary arithmetic: a, b broadcast together; result dtype promote_types(a, b) unless noted.
array add(const array& a, const array& b, StreamOrDevice s = {});
array subtract(const array& a, const array& b, StreamOrDevice s = {});
array multiply(const array& a, const array& b, StreamOrDevice s = {});
array divide(const array& a, const array& b, StreamOrDevice s = {});        // true division (float result)
array floor_divide(const array& a, const array& b, StreamOrDevice s = {});  // ints: floor; x // 0 == 0
array remainder(const array& a, const array& b, StreamOrDevice s = {});     // sign of b (Python %)
array power(const array& a, const array& b, StreamOrDevice s = {});
array maximum(const array& a, const array& b, StreamOrDevice s = {});  // NaN propagates
array minimum(const array& a, const array& b, StreamOrDevice s = {});  // NaN propagates
array logaddexp(const array& a, const array& b, StreamOrDevice s = {});  // float result
array arctan2(const array& a, const array& b, StreamOrDevice s = {});    // atan2(a, b), float result

// Comparisons (bool results).
array equal(const array& a, const array& b, StreamOrDevice s = {});
array not_equal(const array& a, const array& b, StreamOrDevice s = {});
array less(const array& a, const array& b, StreamOrDevice s = {});
array less_equal(const array& a, const array& b, StreamOrDevice s = {});
array greater(const array& a, const array& b, StreamOrDevice s = {});
array greater_equal(const array& a, const array& b, StreamOrDevice s = {});

// Logical (inputs cast to bool) and bitwise (integers and bool only).
array logical_and(const array& a, const array& b, StreamOrDevice s = {});
array logical_or(const array& a, const array& b, StreamOrDevice s = {});
array bitwise_and(const array& a, const array& b, StreamOrDevice s = {});
array bitwise_or(const array& a, const array& b, StreamOrDevice s = {});
array bitwise_xor(const array& a, const array& b, StreamOrDevice s = {});
array left_shift(const array& a, const array& b, StreamOrDevice s = {});
array right_shift(const array& a, const array& b, StreamOrDevice s = {});

// cond ? x : y elementwise, all three broadcast together; result dtype promote_types(x, y).
array where(const array& condition, const array& x, const array& y, StreamOrDevice s = {});
// Limits a to [a_min, a_max]; either bound may be absent (not both).
array clip(const array& a, const std::optional<array>& a_min, const std::optional<array>& a_max,
           StreamOrDevice s = {});

// Operators (MLX style: comparisons return arrays).
array operator-(const array& a);
array operator!(const array& a);  // logical_not
array operator~(const array& a);  // bitwise_invert
array operator+(const array& a, const array& b);
array operator-(const array& a, const array& b);
array operator*(const array& a, const array& b);
array operator/(const array& a, const array& b);
array operator%(const array& a, const array& b);
array operator==(const array& a, const array& b);
array operator!=(const array& a, const array& b);
array operator<(const array& a, const array& b);
array operator<=(const array& a, const array& b);
array operator>(const array& a, const array& b);
array operator>=(const array& a, const array& b);
array operator&&(const array& a, const array& b);
array operator||(const array& a, const array& b);
array operator&(const array& a, const array& b);
array operator|(const array& a, const array& b);
array operator^(const array& a, const array& b);
array operator<<(const array& a, const array& b);
array operator>>(const array& a, const array& b);

}  // namespace tessera
