// Branch-free float32 math (exp, log, tanh, sigmoid, erf) that GCC vectorizes; Cephes/Eigen-style.
#pragma once

#include <cstdint>
#include <cstring>

namespace tessera::simd {

inline uint32_t as_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float as_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// exp(x): n = round(x / ln2) via the 1.5*2^23 trick (no float->int conversion, NaN-safe),
// r = x - n ln2 in two parts, degree-6 Cephes polynomial, and 2^n applied as two factors so
// overflow gives inf and the subnormal range underflows gradually. Error <= ~1 ulp.
inline float exp(float x) {
  x = x > 89.0f ? 89.0f : x;      // NaN passes through both clamps
  x = x < -104.0f ? -104.0f : x;  // exp(-104) < min subnormal / 2
  const float magic = 12582912.0f;  // 1.5 * 2^23
  float t = x * 1.44269504088896341f + magic;
  int32_t n = static_cast<int32_t>(as_bits(t)) - 0x4B400000;
  float fn = t - magic;
  float r = x - fn * 0.693359375f;
  r = r - fn * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  int32_t n1 = n >> 1;  // n in [-150, 129] -> both halves are normal exponents
  int32_t n2 = n - n1;
  float s1 = as_float(static_cast<uint32_t>(n1 + 127) << 23);
  float s2 = as_float(static_cast<uint32_t>(n2 + 127) << 23);
  return p * s1 * s2;
}

// log(x): Cephes logf. Subnormals are scaled by 2^23 first; x<0 -> NaN, 0 -> -inf, inf -> inf.
inline float log(float x) {
  bool sub = x < 1.17549435e-38f;
  float xs = sub ? x * 8388608.0f : x;
  uint32_t u = as_bits(xs);
  float e = static_cast<float>(static_cast<int32_t>(u >> 23) - 126) - (sub ? 23.0f : 0.0f);
  float m = as_float((u & 0x807fffffu) | 0x3f000000u);  // in [0.5, 1)
  bool small = m < 0.707106781186547524f;
  e = small ? e - 1.0f : e;
  m = small ? m + m - 1.0f : m - 1.0f;
  float z = m * m;
  float p = 7.0376836292e-2f;
  p = p * m - 1.1514610310e-1f;
  p = p * m + 1.1676998740e-1f;
  p = p * m - 1.2420140846e-1f;
  p = p * m + 1.4249322787e-1f;
  p = p * m - 1.6668057665e-1f;
  p = p * m + 2.0000714765e-1f;
  p = p * m - 2.4999993993e-1f;
  p = p * m + 3.3333331174e-1f;
  float y = p * m * z;
  y = y + e * -2.12194440e-4f;
  y = y - 0.5f * z;
  float r = m + y;
  r = r + e * 0.693359375f;
  r = x == 0.0f ? -__builtin_inff() : r;
  r = x < 0.0f ? __builtin_nanf("") : r;
  r = x == __builtin_inff() ? x : r;
  r = x != x ? x : r;
  return r;
}

// tanh(x): odd polynomial for |x| < 0.625 (Cephes tanhf), else 1 - 2 / (exp(2|x|) + 1).
inline float tanh(float x) {
  float a = x < 0.0f ? -x : x;
  float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  float small = x + x * z * p;
  float big = 1.0f - 2.0f / (exp(2.0f * a) + 1.0f);
  big = x < 0.0f ? -big : big;
  return a < 0.625f ? small : big;  // NaN: a < 0.625 is false, big is NaN
}

// sigmoid(x) = 1 / (1 + exp(-x)), written with exp(-|x|) so neither side overflows and the
// negative tail keeps its relative accuracy.
inline float sigmoid(float x) {
  float a = x < 0.0f ? -x : x;
  float e = exp(-a);
  float r = 1.0f / (1.0f + e);
  return x < 0.0f ? e * r : r;
}

// erf(x): Eigen's rational approximation x P(x^2) / Q(x^2) on [-4, 4] (erf is +-1 outside in float).
inline float erf(float x) {
  float c = x > 4.0f ? 4.0f : x;
  c = c < -4.0f ? -4.0f : c;
  float x2 = c * c;
  float p = -2.72614225801306e-10f;
  p = p * x2 + 2.77068142495902e-08f;
  p = p * x2 - 2.10102402082508e-06f;
  p = p * x2 - 5.69250639462346e-05f;
  p = p * x2 - 7.34990630326855e-04f;
  p = p * x2 - 2.95459980854025e-03f;
  p = p * x2 - 1.60960333262415e-02f;
  float q = -1.45660718464996e-05f;
  q = q * x2 - 2.13374055278905e-04f;
  q = q * x2 - 1.68282697438203e-03f;
  q = q * x2 - 7.37332916720468e-03f;
  q = q * x2 - 1.42647390514189e-02f;
  return c * (p / q);  // c * p would lose bits for tiny c
}

}  // namespace tessera::simd
