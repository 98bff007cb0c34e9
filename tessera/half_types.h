// 16-bit float storage types (IEEE half and bfloat16) with exact conversions to and from float.
#pragma once

#include <cstdint>
#include <cstring>

namespace tessera {

inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// bfloat16: the top 16 bits of a float32; conversion rounds to nearest even, NaN stays NaN.
struct bfloat16_t {
  uint16_t bits{0};
  bfloat16_t() = default;
  bfloat16_t(float f) {  // NOLINT: implicit like a builtin float type
    uint32_t u = float_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
      bits = static_cast<uint16_t>((u >> 16) | 0x40u);
    } else {
      u += 0x7fffu + ((u >> 16) & 1u);
      bits = static_cast<uint16_t>(u >> 16);
    }
  }
  template <typename T, typename = decltype(static_cast<float>(T{}))>
  bfloat16_t(T v) : bfloat16_t(static_cast<float>(v)) {}  // NOLINT
  operator float() const { return bits_float(static_cast<uint32_t>(bits) << 16); }  // NOLINT
  static bfloat16_t from_bits(uint16_t b) {
    bfloat16_t r;
    r.bits = b;
    return r;
  }
};

// float16: IEEE 754 binary16; conversion rounds to nearest even with subnormals and inf/NaN.
struct float16_t {
  uint16_t bits{0};
  float16_t() = default;
  float16_t(float f) { bits = from_float(f); }  // NOLINT
  template <typename T, typename = decltype(static_cast<float>(T{}))>
  float16_t(T v) : float16_t(static_cast<float>(v)) {}  // NOLINT
  operator float() const { return to_float(bits); }  // NOLINT
  static float16_t from_bits(uint16_t b) {
    float16_t r;
    r.bits = b;
    return r;
  }

  static float to_float(uint16_t h) {
    uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0x1f) return bits_float(sign | 0x7f800000u | (man << 13));
    if (exp == 0) {
      if (man == 0) return bits_float(sign);
      // Subnormal: value = man * 2^-24.
      float v = static_cast<float>(man) * 5.9604644775390625e-08f;
      return sign ? -v : v;
    }
    return bits_float(sign | ((exp + 112) << 23) | (man << 13));
  }

  static uint16_t from_float(float f) {
    uint32_t u = float_bits(f);
    uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return sign | 0x7e00u;  // NaN
    if (a >= 0x477ff000u) return sign | 0x7c00u;  // overflow (rounds to inf) or inf
    if (a < 0x38800000u) {  // subnormal half or zero
      // Add 0.5 (as float) to shift the mantissa into place with hardware rounding.
      float shifted = bits_float(a) + 0.5f;
      return sign | static_cast<uint16_t>(float_bits(shifted) - 0x3f000000u);
    }
    uint32_t mant_odd = (a >> 13) & 1u;
    a += 0xc8000fffu + mant_odd;  // rebias exponent (-112 << 23) and round to nearest even
    return sign | static_cast<uint16_t>(a >> 13);
  }
};

}  // namespace tessera
