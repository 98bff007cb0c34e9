// float64 references of the GPU tests (gpu_perf_tests.cpp, gpu_perf2_tests.cpp, gpu_tests.cpp,
// gpu_ops_more_tests.cpp): rms_norm, softmax/log_softmax over rows, and batched matmul.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

namespace tessera::testing {

inline std::vector<double> ref_rms_norm(const std::vector<double>& x, const std::vector<double>& w, int rows, int d,
                                 double eps) {
  std::vector<double> out(x.size());
  for (int r = 0; r < rows; ++r) {
    double s = 0;
    for (int j = 0; j < d; ++j) s += x[r * d + j] * x[r * d + j];
    double inv = 1.0 / std::sqrt(s / d + eps);
    for (int j = 0; j < d; ++j) out[r * d + j] = x[r * d + j] * inv * (w.empty() ? 1.0 : w[j]);
  }
  return out;
}

inline std::vector<double> ref_softmax(const std::vector<double>& x, int rows, int d, bool log) {
  std::vector<double> out(x.size());
  for (int r = 0; r < rows; ++r) {
    double m = -INFINITY, s = 0;
    for (int j = 0; j < d; ++j) m = std::max(m, x[r * d + j]);
    for (int j = 0; j < d; ++j) s += std::exp(x[r * d + j] - m);
    for (int j = 0; j < d; ++j) {
      out[r * d + j] = log ? x[r * d + j] - m - std::log(s) : std::exp(x[r * d + j] - m) / s;
    }
  }
  return out;
}

// Product of (B, M, K) and (B, K, N) float64 values (batch of b broadcast when bB == 1).
inline std::vector<double> ref_bmm(const std::vector<double>& a, const std::vector<double>& b, int B, int M, int K, int N,
                            bool b_broadcast) {
  std::vector<double> c(static_cast<size_t>(B) * M * N, 0.0);
  for (int z = 0; z < B; ++z) {
    const double* bz = b.data() + (b_broadcast ? 0 : static_cast<size_t>(z) * K * N);
    for (int i = 0; i < M; ++i)
      for (int k = 0; k < K; ++k) {
        double av = a[(static_cast<size_t>(z) * M + i) * K + k];
        for (int j = 0; j < N; ++j) c[(static_cast<size_t>(z) * M + i) * N + j] += av * bz[k * N + j];
      }
  }
  return c;
}

}  // namespace tessera::testing
