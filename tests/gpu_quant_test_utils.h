// Shared pieces of the GPU quantized matmul tests: float64 reference products with their sum |x w|
// scale, a scaled closeness check, host float64 values, and random raw GGUF rows.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "tessera/ops.h"

namespace tessera::testing {

inline std::vector<double> host_values(const array& a) {
  return astype(a, float64, Device::cpu).to_vector<double>();
}

// x (M, K) @ W^T (W (N, K), transpose) or x @ W (W (K, N)) in float64, and sum |x w| per output.
inline void ref_matmul(const std::vector<double>& x, const std::vector<double>& w, int64_t M, int64_t K,
                       int64_t N, bool transpose, std::vector<double>& out, std::vector<double>& mag) {
  out.assign(M * N, 0.0);
  mag.assign(M * N, 0.0);
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t k = 0; k < K; ++k) {
      double xv = x[m * K + k];
      for (int64_t n = 0; n < N; ++n) {
        double wv = transpose ? w[n * K + k] : w[k * N + n];
        out[m * N + n] += xv * wv;
        mag[m * N + n] += std::fabs(xv * wv);
      }
    }
  }
}

// |got - want| <= rel * mag + 1e-5 everywhere.
inline ::testing::AssertionResult close_scaled(const array& got, const std::vector<double>& want,
                                               const std::vector<double>& mag, double rel) {
  auto g = astype(got, float64, Device::cpu).to_vector<double>();
  if (g.size() != want.size())
    return ::testing::AssertionFailure() << "size " << g.size() << " vs " << want.size();
  for (size_t i = 0; i < g.size(); ++i) {
    if (!(std::fabs(g[i] - want[i]) <= rel * mag[i] + 1e-5)) {
      return ::testing::AssertionFailure()
             << "at " << i << ": got " << g[i] << ", expected " << want[i] << " (scale " << mag[i] << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

// Random raw GGUF rows (rows, K/block*bytes): random bytes, with every f16 field (d, m, dmin) set to a
// small positive value so that the decoded weights are finite and of ordinary size.
inline array random_gguf(GGUFType t, int rows, int K, unsigned seed) {
  int bs = gguf_block_size(t), bb = gguf_block_bytes(t);
  int64_t nb = static_cast<int64_t>(rows) * (K / bs);
  std::vector<uint8_t> bytes(nb * bb);
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> small(0.002f, 0.02f);
  for (size_t i = 0; i < bytes.size(); i += 4) {  // 4 random bytes per draw (large timing weights)
    uint32_t r = static_cast<uint32_t>(gen());
    for (size_t j = 0; j < 4 && i + j < bytes.size(); ++j) bytes[i + j] = static_cast<uint8_t>(r >> (8 * j));
  }
  auto put = [&](uint8_t* p, float v) {
    float16_t h(v);
    std::memcpy(p, &h.bits, 2);
  };
  for (int64_t i = 0; i < nb; ++i) {
    uint8_t* b = bytes.data() + i * bb;
    switch (t) {
      case GGUFType::Q4_0:
      case GGUFType::Q8_0:
        put(b, small(gen));
        break;
      case GGUFType::Q4_1:
        put(b, small(gen));
        put(b + 2, -8.0f * small(gen));
        break;
      case GGUFType::Q4_K:
      case GGUFType::Q5_K:
        put(b, small(gen) * 0.1f);
        put(b + 2, small(gen) * 0.1f);
        break;
      case GGUFType::Q6_K:
        put(b + 208, small(gen) * 0.01f);
        break;
    }
  }
  return array(bytes, {rows, static_cast<ShapeElem>(nb * bb / rows)}, uint8);
}

}  // namespace tessera::testing
