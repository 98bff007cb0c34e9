// CPU kernel of RoPE: a cos/sin table per position, then one pass over rows in parallel.
#include <cmath>
#include <vector>

#include "tessera/backend/cpu/fast_common.h"
#include "tessera/backend/cpu/threading.h"
#include "tessera/primitives/fast.h"

namespace tessera::fast {

void RoPE::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  out.set_data(allocator::malloc(out.nbytes()));
  if (out.size() == 0) return;
  array x = cpu::contiguous_as(inputs[0], inputs[0].dtype());
  array off = cpu::contiguous_as(inputs[1], int32);
  const int32_t* offp = off.data<int32_t>();
  size_t noff = off.size();  // 1 or B

  size_t d = static_cast<size_t>(x.shape(-1));
  size_t L = static_cast<size_t>(x.shape(-2));
  size_t rows = x.size() / d;
  size_t half = static_cast<size_t>(dims_ / 2);
  size_t rows_per_offset = rows / noff;  // rows of one batch element when offsets are per batch

  // Inverse frequencies in double: base^(-2i/dims) or 1/freqs[i].
  std::vector<double> inv(half);
  if (has_freqs_) {
    array f = cpu::contiguous_as(inputs[2], float32);
    for (size_t i = 0; i < half; ++i) inv[i] = 1.0 / static_cast<double>(f.data<float>()[i]);
  } else {
    for (size_t i = 0; i < half; ++i) inv[i] = std::pow(static_cast<double>(base_), -2.0 * i / dims_);
  }
  // cos/sin of every (offset entry, position, i): (noff, L, half) each.
  std::vector<float> cosv(noff * L * half), sinv(noff * L * half);
  cpu::parallel_for(noff * L, std::max<size_t>(1, 4096 / std::max<size_t>(half, 1)), [&](size_t b, size_t e) {
    for (size_t p = b; p < e; ++p) {
      double pos = (static_cast<double>(offp[p / L]) + static_cast<double>(p % L)) * scale_;
      for (size_t i = 0; i < half; ++i) {
        double th = pos * inv[i];
        cosv[p * half + i] = static_cast<float>(std::cos(th));
        sinv[p * half + i] = static_cast<float>(std::sin(th));
      }
    }
  });

  dispatch_float(x.dtype(), "rope", [&](auto t) {
    using T = decltype(t);
    const T* src = x.data<T>();
    T* dst = out.data<T>();
    bool trad = traditional_;
    cpu::parallel_for(rows, std::max<size_t>(1, 16384 / d), [&](size_t b, size_t e) {
      std::vector<float> xin(d), yout(d);
      for (size_t r = b; r < e; ++r) {
        const T* xr = src + r * d;
        T* yr = dst + r * d;
        size_t p = (r / rows_per_offset) * L + r % L;
        const float* c = cosv.data() + p * half;
        const float* s = sinv.data() + p * half;
        for (size_t i = 0; i < d; ++i) xin[i] = static_cast<float>(xr[i]);
        if (trad) {
          for (size_t i = 0; i < half; ++i) {
            float a = xin[2 * i], bb = xin[2 * i + 1];
            yout[2 * i] = a * c[i] - bb * s[i];
            yout[2 * i + 1] = a * s[i] + bb * c[i];
          }
        } else {
          const float* x1 = xin.data();
          const float* x2 = xin.data() + half;
          for (size_t i = 0; i < half; ++i) {
            yout[i] = x1[i] * c[i] - x2[i] * s[i];
            yout[half + i] = x1[i] * s[i] + x2[i] * c[i];
          }
        }
        for (size_t i = 2 * half; i < d; ++i) yout[i] = xin[i];
        for (size_t i = 0; i < d; ++i) yr[i] = static_cast<T>(yout[i]);
      }
    });
  });
}

}  // namespace tessera::fast
