// Test helper shared by the quantized kernel tests: the error bound of int8-rounded activations.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace tessera::testing {

// Bound on |y - x.w| for output (m, n) when x (M, K) is rounded per block of 32 to int8 with
// d = max|x_block| / 127 (error <= d/2 per value) and w (N, K) row-major; plus float rounding
// rtol * mag (mag = sum |x w|).
inline double int8_act_bound(const std::vector<double>& x, const std::vector<double>& w, int64_t K, int64_t m,
                             int64_t n, double mag, double rtol = 1e-5) {
  double bound = rtol * mag + 1e-6;
  for (int64_t b = 0; b < K / 32; ++b) {
    double amax = 0, wabs = 0;
    for (int j = 0; j < 32; ++j) {
      amax = std::max(amax, std::fabs(x[m * K + b * 32 + j]));
      wabs += std::fabs(w[n * K + b * 32 + j]);
    }
    bound += amax / 127 / 2 * wabs * (1 + 1e-5);
  }
  return bound;
}

}  // namespace tessera::testing
