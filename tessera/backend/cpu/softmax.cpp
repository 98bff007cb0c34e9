// CPU kernels for the fused Softmax/log-softmax and LogSumExp over the last axis, with a branch-free
// float32 exp that GCC vectorizes.
// The clamps/selects in fast_exp only if-convert (and so vectorize) without trapping math; this
// file does no FP-exception-sensitive work.
#pragma GCC optimize("no-trapping-math")
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "tessera/backend/cpu/reduce_utils.h"
#include "tessera/backend/cpu/threading.h"
#include "tessera/primitives/reduce.h"

namespace tessera {

namespace {

// exp(x) for float32 without branches (Cephes-style): x = n*ln2 + r, |r| <= ln2/2, degree-6
// polynomial for e^r, 2^n built in the exponent bits. Relative error about 2 ulp; exact 0 below
// -87.3, NaN stays NaN, clamps above 88 (softmax only feeds x <= 0).
inline float fast_exp(float x) {
  const float hi = 88.0f, lo = -87.33654f;
  float xc = x > hi ? hi : x;
  xc = xc < lo ? lo : xc;
  // Round x*log2(e) to nearest with the 1.5*2^23 trick (no libm call, vectorizes).
  const float shifter = 12582912.0f;
  float t = xc * 1.44269504088896341f + shifter;
  float nf = t - shifter;
  float r = xc - nf * 0.693359375f;
  r = r - nf * -2.12194440e-4f;
  float z = r * r;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * z + r + 1.0f;
  int32_t ni = static_cast<int32_t>(nf);
  float scale = std::bit_cast<float>(static_cast<uint32_t>(ni + 127) << 23);
  float y = p * scale;
  return x < lo ? 0.0f : y;
}

// Max of a float row (NaN propagates) with vector-sized accumulator blocks.
inline float row_max(const float* p, size_t n) {
  constexpr int W = 32;
  float acc[W];
  for (int j = 0; j < W; ++j) acc[j] = -std::numeric_limits<float>::infinity();
  size_t i = 0;
  for (; i + W <= n; i += W) {
    for (int j = 0; j < W; ++j) {
      float x = p[i + j];
      bool take = (x > acc[j]) | (x != x);
      acc[j] = take ? x : acc[j];
    }
  }
  float m = -std::numeric_limits<float>::infinity();
  for (int j = 0; j < W; ++j) m = (acc[j] > m || acc[j] != acc[j]) ? acc[j] : m;
  for (; i < n; ++i) m = (p[i] > m || p[i] != p[i]) ? p[i] : m;
  return m;
}

// Sum of a float row with vector-sized accumulator blocks.
inline float row_sum(const float* p, size_t n) {
  constexpr int W = 32;
  float acc[W] = {};
  size_t i = 0;
  for (; i + W <= n; i += W) {
    for (int j = 0; j < W; ++j) acc[j] += p[i + j];
  }
  float s = 0.0f;
  for (int j = 0; j < W; ++j) s += acc[j];
  for (; i < n; ++i) s += p[i];
  return s;
}

// dst[i] = exp(src[i] - m).
inline void exp_shifted(const float* __restrict src, float* __restrict dst, size_t n, float m) {
  for (size_t i = 0; i < n; ++i) dst[i] = fast_exp(src[i] - m);
}

// Per-thread scratch row for passes that need exp values without an output to hold them.
inline float* scratch(size_t n) {
  thread_local std::vector<float> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

// sum(exp(x - m)) over a row, through the scratch buffer in L1-sized pieces.
inline float exp_sum(const float* x, size_t n, float m) {
  constexpr size_t P = 2048;
  float* tmp = scratch(P);
  float s = 0.0f;
  for (size_t i = 0; i < n; i += P) {
    size_t len = std::min(P, n - i);
    exp_shifted(x + i, tmp, len, m);
    s += row_sum(tmp, len);
  }
  return s;
}

// One float32 row: out = softmax(x) or log_softmax(x). out may alias x.
inline void softmax_row_f32(const float* x, float* out, size_t n, bool log) {
  float m = row_max(x, n);
  if (log) {
    float shift = m + std::log(exp_sum(x, n, m));
    for (size_t i = 0; i < n; ++i) out[i] = x[i] - shift;
  } else {
    exp_shifted(x, out, n, m);
    float inv = 1.0f / row_sum(out, n);
    for (size_t i = 0; i < n; ++i) out[i] *= inv;
  }
}

inline void softmax_row_f64(const double* x, double* out, size_t n, bool log) {
  double m = -std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < n; ++i) m = (x[i] > m || x[i] != x[i]) ? x[i] : m;
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += std::exp(x[i] - m);
  if (log) {
    double shift = m + std::log(s);
    for (size_t i = 0; i < n; ++i) out[i] = x[i] - shift;
  } else {
    double inv = 1.0 / s;
    for (size_t i = 0; i < n; ++i) out[i] = std::exp(x[i] - m) * inv;
  }
}

}  // namespace

void Softmax::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array in = cpu::row_contiguous_input(inputs[0]);
  array& out = outputs[0];
  out.set_data(allocator::malloc(out.nbytes()));
  if (out.size() == 0) return;
  size_t n = in.shape().empty() ? 1 : in.shape().back();
  size_t rows = out.size() / n;
  size_t grain = std::max<size_t>(1, (1 << 14) / n);
  bool log = log_;
  dispatch_float(in.dtype(), "softmax", [&](auto t) {
    using T = decltype(t);
    const T* src = in.data<T>();
    T* dst = out.data<T>();
    cpu::parallel_for(rows, grain, [&](size_t b, size_t e) {
      if constexpr (std::is_same_v<T, float>) {
        for (size_t r = b; r < e; ++r) softmax_row_f32(src + r * n, dst + r * n, n, log);
      } else if constexpr (std::is_same_v<T, double>) {
        for (size_t r = b; r < e; ++r) softmax_row_f64(src + r * n, dst + r * n, n, log);
      } else {
        // 16-bit floats: widen the row to float, compute, narrow.
        std::vector<float> xin(n), xout(n);
        for (size_t r = b; r < e; ++r) {
          const T* s = src + r * n;
          for (size_t i = 0; i < n; ++i) xin[i] = static_cast<float>(s[i]);
          softmax_row_f32(xin.data(), xout.data(), n, log);
          T* d = dst + r * n;
          for (size_t i = 0; i < n; ++i) d[i] = static_cast<T>(xout[i]);
        }
      }
    });
  });
}

bool Softmax::is_equivalent(const Primitive& o) const {
  auto& r = static_cast<const Softmax&>(o);
  return precise_ == r.precise_ && log_ == r.log_;
}

void LogSumExp::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array in = cpu::row_contiguous_input(inputs[0]);
  array& out = outputs[0];
  out.set_data(allocator::malloc(out.nbytes()));
  if (out.size() == 0) return;
  size_t n = in.shape().back();
  size_t rows = out.size();
  size_t grain = std::max<size_t>(1, (1 << 14) / std::max<size_t>(n, 1));
  dispatch_float(in.dtype(), "logsumexp", [&](auto t) {
    using T = decltype(t);
    const T* src = in.data<T>();
    T* dst = out.data<T>();
    cpu::parallel_for(rows, grain, [&](size_t b, size_t e) {
      std::vector<float> xin(std::is_same_v<T, float> || std::is_same_v<T, double> ? 0 : n);
      for (size_t r = b; r < e; ++r) {
        const T* s = src + r * n;
        if constexpr (std::is_same_v<T, double>) {
          double m = -std::numeric_limits<double>::infinity();
          for (size_t i = 0; i < n; ++i) m = (s[i] > m || s[i] != s[i]) ? s[i] : m;
          if (!std::isfinite(m)) {
            dst[r] = m;
            continue;
          }
          double sum = 0;
          for (size_t i = 0; i < n; ++i) sum += std::exp(s[i] - m);
          dst[r] = m + std::log(sum);
        } else {
          const float* x;
          if constexpr (std::is_same_v<T, float>) {
            x = s;
          } else {
            for (size_t i = 0; i < n; ++i) xin[i] = static_cast<float>(s[i]);
            x = xin.data();
          }
          float m = row_max(x, n);
          // All -inf (or empty) gives -inf, a +inf gives +inf, NaN stays NaN.
          if (!std::isfinite(m)) {
            dst[r] = static_cast<T>(m);
            continue;
          }
          dst[r] = static_cast<T>(m + std::log(exp_sum(x, n, m)));
        }
      }
    });
  });
}

}  // namespace tessera
