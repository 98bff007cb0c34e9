// FP8 (E4M3FN and E5M2) to float32 conversion for reading checkpoints; tessera has no f8 dtype.
#pragma once

#include <cmath>
#include <cstdint>

namespace tessera::io {

// E4M3FN: 1 sign, 4 exponent (bias 7), 3 mantissa bits; no infinities, S.1111.111 is NaN.
inline float f8_e4m3_to_float(uint8_t b) {
  int sign = b >> 7, exp = (b >> 3) & 0xf, man = b & 7;
  float v;
  if (exp == 0xf && man == 7) return std::nanf("");
  if (exp == 0) {
    v = std::ldexp(static_cast<float>(man), -9);  // man/8 * 2^-6
  } else {
    v = std::ldexp(1.0f + man / 8.0f, exp - 7);
  }
  return sign ? -v : v;
}

// E5M2: 1 sign, 5 exponent (bias 15), 2 mantissa bits; IEEE-style infinities and NaN.
inline float f8_e5m2_to_float(uint8_t b) {
  int sign = b >> 7, exp = (b >> 2) & 0x1f, man = b & 3;
  float v;
  if (exp == 0x1f) {
    v = man == 0 ? INFINITY : NAN;
  } else if (exp == 0) {
    v = std::ldexp(static_cast<float>(man), -16);  // man/4 * 2^-14
  } else {
    v = std::ldexp(1.0f + man / 4.0f, exp - 15);
  }
  return sign ? -v : v;
}

}  // namespace tessera::io
