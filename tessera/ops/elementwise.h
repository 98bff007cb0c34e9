// Elementwise ops with NumPy broadcasting and type promotion.
#pragma once

#include "tessera/array.h"
#include "tessera/device.h"

namespace tessera {

// Unary.
array exp(const array& a, StreamOrDevice s = {});
array negative(const array& a, StreamOrDevice s = {});

// Binary.
array add(const array& a, const array& b, StreamOrDevice s = {});
array subtract(const array& a, const array& b, StreamOrDevice s = {});
array multiply(const array& a, const array& b, StreamOrDevice s = {});
array divide(const array& a, const array& b, StreamOrDevice s = {});  // true division (float result)

// Operators.
array operator-(const array& a);
array operator+(const array& a, const array& b);
array operator-(const array& a, const array& b);
array operator*(const array& a, const array& b);
array operator/(const array& a, const array& b);

}  // namespace tessera
