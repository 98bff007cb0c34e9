// Helpers shared by the GoogleTest suites: float64 reference comparisons and random data.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "tessera/tessera.h"

namespace tessera::testing {

// Random values in [lo, hi) as float64, reproducible per seed.
inline std::vector<double> random_values(size_t n, double lo = -1.0, double hi = 1.0, unsigned seed = 0) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

inline array random_array(const Shape& shape, Dtype dtype = float32, double lo = -1.0, double hi = 1.0,
                          unsigned seed = 0) {
  auto v = random_values(shape_size(shape), lo, hi, seed);
  return astype(array(v, shape, float64), dtype);
}

// Elementwise |a - b| <= atol + rtol * |b|, NaN never passes unless both are NaN and allowed.
inline ::testing::AssertionResult all_close(array a, const std::vector<double>& expected, double rtol = 1e-5,
                                            double atol = 1e-6) {
  auto got = a.to_vector<double>();
  if (got.size() != expected.size()) {
    return ::testing::AssertionFailure() << "size " << got.size() << " != " << expected.size();
  }
  for (size_t i = 0; i < got.size(); ++i) {
    double g = got[i], e = expected[i];
    if (std::isnan(e) && std::isnan(g)) continue;
    if (std::isinf(e) && g == e) continue;
    if (!(std::abs(g - e) <= atol + rtol * std::abs(e))) {
      return ::testing::AssertionFailure() << "at " << i << ": got " << g << ", expected " << e;
    }
  }
  return ::testing::AssertionSuccess();
}

// Message of the exception thrown by f, or "" if none.
template <typename F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace tessera::testing
