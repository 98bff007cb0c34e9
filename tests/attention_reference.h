// Float64 reference of scaled dot-product attention for the GPU attention tests: q (B, Hq, Lq, D),
// k/v (B, Hkv, Lk, D) row-major, GQA, bottom-right causal, an additive mask; no-key rows are NaN.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace tessera::testing {

// softmax(q k^T * scale + mask) v in float64; `add` is the additive mask over (B, Hq, Lq, Lk) or
// empty. A row that sees no key is NaN.
inline std::vector<double> reference_attention(const std::vector<double>& q, const std::vector<double>& k,
                                               const std::vector<double>& v, const std::vector<double>& add,
                                               int B, int Hq, int Hkv, int Lq, int Lk, int D, double scale,
                                               bool causal) {
  std::vector<double> out(static_cast<size_t>(B) * Hq * Lq * D);
  std::vector<double> s(Lk);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < Hq; ++h)
      for (int i = 0; i < Lq; ++i) {
        int kh = h / (Hq / Hkv);
        const double* qr = &q[((static_cast<size_t>(b) * Hq + h) * Lq + i) * D];
        const double* kb = &k[(static_cast<size_t>(b) * Hkv + kh) * Lk * D];
        const double* vb = &v[(static_cast<size_t>(b) * Hkv + kh) * Lk * D];
        const double* ar = add.empty() ? nullptr : &add[((static_cast<size_t>(b) * Hq + h) * Lq + i) * Lk];
        double mx = -INFINITY;
        for (int j = 0; j < Lk; ++j) {
          s[j] = -INFINITY;
          if (causal && j > i + Lk - Lq) continue;
          if (ar && ar[j] == -INFINITY) continue;
          double acc = 0;
          for (int c = 0; c < D; ++c) acc += qr[c] * kb[static_cast<size_t>(j) * D + c];
          s[j] = acc * scale + (ar ? ar[j] : 0.0);
          mx = std::max(mx, s[j]);
        }
        double* o = &out[((static_cast<size_t>(b) * Hq + h) * Lq + i) * D];
        if (mx == -INFINITY) {
          for (int c = 0; c < D; ++c) o[c] = nan;
          continue;
        }
        double den = 0;
        for (int c = 0; c < D; ++c) o[c] = 0;
        for (int j = 0; j < Lk; ++j) {
          if (s[j] == -INFINITY) continue;
          double p = std::exp(s[j] - mx);
          den += p;
          for (int c = 0; c < D; ++c) o[c] += p * vb[static_cast<size_t>(j) * D + c];
        }
        for (int c = 0; c < D; ++c) o[c] /= den;
      }
  return out;
}

}  // namespace tessera::testing
