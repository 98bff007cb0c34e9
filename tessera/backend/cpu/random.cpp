// CPU kernels of the random primitives: Threefry bits, bits -> distributions, categorical, permutation.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <vector>

#include "tessera/backend/common/utils.h"
#include "tessera/backend/cpu/fast_common.h"
#include "tessera/backend/cpu/threading.h"
#include "tessera/primitives/random.h"
#include "tessera/random.h"

namespace tessera::random {

namespace {

// Inverse error function in float (M. Giles' single-precision approximation, as in MLX's kernels).
inline float erfinv_f(float a) {
  float t = std::fma(a, -a, 1.0f);
  t = std::log(t);
  float p;
  if (std::abs(t) > 6.125f) {
    p = 3.03697567e-10f;
    p = std::fma(p, t, 2.93243101e-8f);
    p = std::fma(p, t, 1.22150334e-6f);
    p = std::fma(p, t, 2.84108955e-5f);
    p = std::fma(p, t, 3.93552968e-4f);
    p = std::fma(p, t, 3.02698812e-3f);
    p = std::fma(p, t, 4.83185798e-3f);
    p = std::fma(p, t, -2.64646143e-1f);
    p = std::fma(p, t, 8.40016484e-1f);
  } else {
    p = 5.43877832e-9f;
    p = std::fma(p, t, 1.43285448e-7f);
    p = std::fma(p, t, 1.22774793e-6f);
    p = std::fma(p, t, 1.12963626e-7f);
    p = std::fma(p, t, -5.61530760e-5f);
    p = std::fma(p, t, -1.47697632e-4f);
    p = std::fma(p, t, 2.31468678e-3f);
    p = std::fma(p, t, 1.15392581e-2f);
    p = std::fma(p, t, -2.32015476e-1f);
    p = std::fma(p, t, 8.86226892e-1f);
  }
  return a * p;
}

// 32 random bits -> float in [0, 1) (as MLX: b / (2^32 - 1), capped below 1).
inline float unit_float(uint32_t b) {
  constexpr float below_one = 0x1.fffffep-1f;
  return std::min(static_cast<float>(b) * (1.0f / 4294967295.0f), below_one);
}

// The largest value of T below v.
template <typename T>
T prev_value(T v) {
  if constexpr (std::is_same_v<T, float16_t> || std::is_same_v<T, bfloat16_t>) {
    float f = static_cast<float>(v);
    if (f > 0.0f) return T::from_bits(static_cast<uint16_t>(v.bits - 1));
    if (f == 0.0f) return T::from_bits(0x8001);
    return T::from_bits(static_cast<uint16_t>(v.bits + 1));
  } else {
    return std::nextafter(v, -std::numeric_limits<T>::infinity());
  }
}

// A float64 parameter broadcast to the output shape: a scalar, or a contiguous buffer.
struct Param {
  array data;
  const double* ptr;
  bool scalar;
  explicit Param(const array& p) : data(p), ptr(nullptr), scalar(true) {
    for (auto st : p.strides()) scalar &= st == 0;
    if (p.size() <= 1) scalar = true;
    if (!scalar) data = cpu::contiguous_as(p, float64);
    ptr = data.data<double>();
  }
  double operator[](size_t i) const { return scalar ? ptr[0] : ptr[i]; }
};

// out[i] = T(f(i, bits[i])) in parallel.
template <typename T, typename F>
void fill(array& out, const uint32_t* bits, F f) {
  T* dst = out.data<T>();
  cpu::parallel_for(out.size(), 1 << 14, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) dst[i] = f(i, bits[i]);
  });
}

}  // namespace

void RandomBits::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  array k = cpu::contiguous_as(inputs[0], uint32);
  std::pair<uint32_t, uint32_t> key{k.data<uint32_t>()[0], k.data<uint32_t>()[1]};
  size_t words = (out.nbytes() + 3) / 4;
  // Whole words are written; the buffer is rounded up so the last partial word fits.
  out.set_data(allocator::malloc(words * 4));
  if (words == 0) return;
  uint32_t* ptr = out.data<uint32_t>();
  size_t half = words / 2;
  size_t second = half + (words % 2);  // where the second halves of the pairs go
  cpu::parallel_for(half, 1 << 13, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      auto r = threefry2x32_hash(key, {static_cast<uint32_t>(i), static_cast<uint32_t>(second + i)});
      ptr[i] = r.first;
      ptr[second + i] = r.second;
    }
  });
  if (words % 2) ptr[half] = threefry2x32_hash(key, {static_cast<uint32_t>(half), 0u}).first;
}

// The multiply-adds below are spelled std::fma (what GCC contracts them to with -mfma anyway) so
// the CUDA kernels (random_map.cu) can reproduce the numbers operation by operation.
void RandomMap::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  out.set_data(allocator::malloc(out.nbytes()));
  if (out.size() == 0) return;
  array bits_arr = cpu::contiguous_as(inputs[0], uint32);
  const uint32_t* bits = bits_arr.data<uint32_t>();
  switch (kind_) {
    case Kind::uniform: {
      Param lo(inputs[1]), hi(inputs[2]);
      dispatch_float(out.dtype(), "random.uniform", [&](auto t) {
        using T = decltype(t);
        fill<T>(out, bits, [&](size_t i, uint32_t b) {
          double l = lo[i], h = hi[i];
          T v = static_cast<T>(std::fma(h - l, static_cast<double>(unit_float(b)), l));
          T th = static_cast<T>(h);
          // Rounding to T must not reach `high`.
          if (static_cast<double>(v) >= static_cast<double>(th) && static_cast<double>(th) > static_cast<double>(static_cast<T>(l))) {
            v = prev_value(th);
          }
          return v;
        });
      });
      break;
    }
    case Kind::normal: {
      const float lo = std::nextafter(-1.0f, 0.0f);
      float loc = loc_, scale = scale_;
      dispatch_float(out.dtype(), "random.normal", [&](auto t) {
        using T = decltype(t);
        fill<T>(out, bits, [&](size_t, uint32_t b) {
          float u = std::fma(1.0f - lo, unit_float(b), lo);
          return static_cast<T>(std::fma(std::sqrt(2.0f) * erfinv_f(u), scale, loc));
        });
      });
      break;
    }
    case Kind::truncated_normal: {
      Param lo(inputs[1]), hi(inputs[2]);
      dispatch_float(out.dtype(), "random.truncated_normal", [&](auto t) {
        using T = decltype(t);
        fill<T>(out, bits, [&](size_t i, uint32_t b) {
          double l = lo[i], h = hi[i];
          double a = std::erf(l / std::sqrt(2.0)), c = std::erf(h / std::sqrt(2.0));
          double u = std::fma(c - a, static_cast<double>(unit_float(b)), a);
          double x = std::sqrt(2.0) * static_cast<double>(erfinv_f(static_cast<float>(u)));
          return static_cast<T>(std::clamp(x, std::min(l, h), std::max(l, h)));
        });
      });
      break;
    }
    case Kind::gumbel: {
      constexpr float tiny = std::numeric_limits<float>::min();
      dispatch_float(out.dtype(), "random.gumbel", [&](auto t) {
        using T = decltype(t);
        fill<T>(out, bits, [&](size_t, uint32_t b) {
          float u = std::fma(1.0f - tiny, unit_float(b), tiny);
          return static_cast<T>(-std::log(-std::log(u)));
        });
      });
      break;
    }
    case Kind::bernoulli: {
      Param p(inputs[1]);
      fill<bool>(out, bits, [&](size_t i, uint32_t b) { return static_cast<double>(unit_float(b)) < p[i]; });
      break;
    }
    case Kind::randint: {
      Param lo(inputs[1]), hi(inputs[2]);
      dispatch_dtype(out.dtype(), [&](auto t) {
        using T = decltype(t);
        if constexpr (std::is_integral_v<T>) {
          fill<T>(out, bits, [&](size_t i, uint32_t b) {
            double l = std::ceil(lo[i]), h = std::ceil(hi[i]);
            double r = l + std::floor((h - l) * (static_cast<double>(b) * 0x1p-32));
            r = std::max(l, std::min(r, h - 1.0));
            if constexpr (std::is_same_v<T, bool>) return r != 0.0;
            else return static_cast<T>(static_cast<int64_t>(r));
          });
        } else {
          throw std::invalid_argument("[random.randint] expected an integer output dtype.");
        }
      });
      break;
    }
  }
}

void Categorical::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  out.set_data(allocator::malloc(out.nbytes()));
  if (out.size() == 0) return;
  array bits_arr = cpu::contiguous_as(inputs[0], uint32);
  const uint32_t* bits = bits_arr.data<uint32_t>();
  const array& logits = inputs[1];  // float32, broadcast to the full shape (strided)
  const float* lp = logits.data<float>();
  const Shape& full = logits.shape();
  size_t n = static_cast<size_t>(full[axis_]);
  size_t inner = 1;
  for (size_t d = axis_ + 1; d < full.size(); ++d) inner *= full[d];
  int64_t lstride = logits.strides()[axis_];
  uint32_t* dst = out.data<uint32_t>();
  constexpr float tiny = std::numeric_limits<float>::min();
  cpu::parallel_for(out.size(), std::max<size_t>(1, 4096 / n), [&](size_t b, size_t e) {
    for (size_t o = b; o < e; ++o) {
      size_t outer_i = o / inner, inner_i = o % inner;
      size_t first = outer_i * n * inner + inner_i;  // linear index of category 0 in the full shape
      int64_t lbase = elem_to_loc(first, full, logits.strides());
      float best = -std::numeric_limits<float>::infinity();
      uint32_t arg = 0;
      bool found = false;
      for (size_t c = 0; c < n; ++c) {
        float u = std::fma(1.0f - tiny, unit_float(bits[first + c * inner]), tiny);
        float v = lp[lbase + static_cast<int64_t>(c) * lstride] - std::log(-std::log(u));
        if (!found || v > best) {
          best = v;
          arg = static_cast<uint32_t>(c);
          found = true;
        }
      }
      dst[o] = arg;
    }
  });
}

void Permutation::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  out.set_data(allocator::malloc(out.nbytes()));
  if (out.size() == 0) return;
  array bits_arr = cpu::contiguous_as(inputs[0], uint32);
  const uint32_t* bits = bits_arr.data<uint32_t>();
  array x = cpu::contiguous_as(inputs[1], inputs[1].dtype());
  size_t n = static_cast<size_t>(x.shape(axis_));
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return bits[a] < bits[b]; });
  size_t inner_bytes = x.itemsize();
  for (int d = axis_ + 1; d < x.ndim(); ++d) inner_bytes *= x.shape(d);
  size_t outer = x.size() * x.itemsize() / (inner_bytes * n);
  const char* src = x.data<char>();
  char* dst = out.data<char>();
  cpu::parallel_for(outer * n, std::max<size_t>(1, 65536 / inner_bytes), [&](size_t b, size_t e) {
    for (size_t r = b; r < e; ++r) {
      size_t o = r / n, i = r % n;
      std::memcpy(dst + (o * n + i) * inner_bytes, src + (o * n + order[i]) * inner_bytes, inner_bytes);
    }
  });
}

}  // namespace tessera::random
