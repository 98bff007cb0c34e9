// CPU kernels for Reduce (row and column paths, vectorized with accumulator blocks), ArgReduce and
// Variance.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "tessera/backend/cpu/reduce_utils.h"
#include "tessera/backend/cpu/threading.h"
#include "tessera/primitives/reduce.h"

namespace tessera {

namespace {

template <typename A>
struct SumOp {
  static A init() { return A(0); }
  A operator()(A a, A x) const { return a + x; }
};
template <typename A>
struct ProdOp {
  static A init() { return A(1); }
  A operator()(A a, A x) const { return a * x; }
};
// NaN propagates: once the accumulator is NaN no comparison replaces it; a NaN x replaces it.
template <typename A>
struct MaxOp {
  static A init() {
    if constexpr (std::numeric_limits<A>::has_infinity) return -std::numeric_limits<A>::infinity();
    else return std::numeric_limits<A>::lowest();
  }
  A operator()(A a, A x) const { return (x > a || x != x) ? x : a; }
};
template <typename A>
struct MinOp {
  static A init() {
    if constexpr (std::numeric_limits<A>::has_infinity) return std::numeric_limits<A>::infinity();
    else return std::numeric_limits<A>::max();
  }
  A operator()(A a, A x) const { return (x < a || x != x) ? x : a; }
};
struct AndOp {
  static bool init() { return true; }
  bool operator()(bool a, bool x) const { return a & x; }
};
struct OrOp {
  static bool init() { return false; }
  bool operator()(bool a, bool x) const { return a | x; }
};

constexpr size_t kGrain = 1 << 15;  // elements worth a thread

// Reduces n contiguous values with W independent accumulators so the loop vectorizes.
template <typename A, typename T, typename Op>
A reduce_contiguous(const T* p, size_t n, Op op) {
  constexpr int W = 64 / sizeof(A) < 8 ? 8 : 64 / sizeof(A);
  A acc[W];
  for (int j = 0; j < W; ++j) acc[j] = Op::init();
  size_t i = 0;
  for (; i + W <= n; i += W) {
    for (int j = 0; j < W; ++j) acc[j] = op(acc[j], static_cast<A>(p[i + j]));
  }
  A r = Op::init();
  for (int j = 0; j < W; ++j) r = op(r, acc[j]);
  for (; i < n; ++i) r = op(r, static_cast<A>(p[i]));
  return r;
}

// Reduces a row-contiguous [K, R, I] input over R into a [K, I] output.
template <typename T, typename O, typename Op>
void reduce_kri(const T* src, O* dst, size_t K, size_t R, size_t I, bool mean, Op op) {
  using A = acc_t<O>;
  auto fin = [&](A r) -> O {
    if constexpr (std::is_floating_point_v<A> || std::is_same_v<A, complex64_t>) {
      if (mean) return static_cast<O>(r / static_cast<A>(static_cast<float>(R)));
    }
    return static_cast<O>(r);
  };
  int threads = cpu::pool_size();
  if (I == 1) {
    // Row reduction; long rows with few of them are split into chunks reduced in parallel.
    size_t C = 1;
    if (K < static_cast<size_t>(2 * threads) && R >= 2 * kGrain) {
      C = std::min<size_t>(R / kGrain, 4 * threads);
    }
    if (C == 1) {
      cpu::parallel_for(K, std::max<size_t>(1, kGrain / std::max<size_t>(R, 1)), [&](size_t b, size_t e) {
        for (size_t k = b; k < e; ++k) dst[k] = fin(reduce_contiguous<A>(src + k * R, R, op));
      });
      return;
    }
    std::unique_ptr<A[]> part(new A[K * C]);
    size_t chunk = (R + C - 1) / C;
    cpu::parallel_for(K * C, 1, [&](size_t b, size_t e) {
      for (size_t w = b; w < e; ++w) {
        size_t k = w / C, c = w % C;
        size_t r0 = std::min(R, c * chunk), r1 = std::min(R, r0 + chunk);
        part[w] = reduce_contiguous<A>(src + k * R + r0, r1 - r0, op);
      }
    });
    for (size_t k = 0; k < K; ++k) {
      A r = Op::init();
      for (size_t c = 0; c < C; ++c) r = op(r, part[k * C + c]);
      dst[k] = fin(r);
    }
    return;
  }
  // Column reduction: accumulate rows of length I into a vector, in blocks of B columns.
  constexpr size_t B = 1024;
  size_t nb = (I + B - 1) / B;
  size_t C = 1;
  if (K * nb < static_cast<size_t>(2 * threads) && R * I >= 2 * kGrain) {
    C = std::min<size_t>(std::max<size_t>(1, R * I / kGrain), std::min<size_t>(R, 4 * threads));
  }
  size_t chunk = (R + C - 1) / C;
  std::unique_ptr<A[]> part(new A[C > 1 ? K * I * C : 0]);
  size_t per_item = std::max<size_t>(1, chunk * std::min(I, B));
  cpu::parallel_for(K * nb * C, std::max<size_t>(1, kGrain / per_item), [&](size_t b, size_t e) {
    A acc[B];
    for (size_t w = b; w < e; ++w) {
      size_t c = w % C, kb = w / C, k = kb / nb, blk = kb % nb;
      size_t i0 = blk * B, len = std::min(B, I - i0);
      size_t r0 = std::min(R, c * chunk), r1 = std::min(R, r0 + chunk);
      for (size_t i = 0; i < len; ++i) acc[i] = Op::init();
      const T* base = src + k * R * I + i0;
      for (size_t r = r0; r < r1; ++r) {
        const T* row = base + r * I;
        for (size_t i = 0; i < len; ++i) acc[i] = op(acc[i], static_cast<A>(row[i]));
      }
      if (C == 1) {
        O* d = dst + k * I + i0;
        for (size_t i = 0; i < len; ++i) d[i] = fin(acc[i]);
      } else {
        A* d = part.get() + (c * K + k) * I + i0;
        for (size_t i = 0; i < len; ++i) d[i] = acc[i];
      }
    }
  });
  if (C > 1) {
    for (size_t j = 0; j < K * I; ++j) {
      A r = part[j];
      for (size_t c = 1; c < C; ++c) r = op(r, part[c * K * I + j]);
      dst[j] = fin(r);
    }
  }
}

template <typename T>
struct SumOut {
  using type = T;
};
template <> struct SumOut<bool> { using type = int32_t; };
template <> struct SumOut<int8_t> { using type = int32_t; };
template <> struct SumOut<int16_t> { using type = int32_t; };
template <> struct SumOut<uint8_t> { using type = uint32_t; };
template <> struct SumOut<uint16_t> { using type = uint32_t; };

}  // namespace

void Reduce::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array in = cpu::row_contiguous_input(inputs[0]);
  array& out = outputs[0];
  out.set_data(allocator::malloc(out.nbytes()));
  size_t K = 1, R = 1, I = 1;
  for (int i = 0; i < in.ndim(); ++i) {
    if (i < axes_.front()) K *= in.shape(i);
    else if (i <= axes_.back()) R *= in.shape(i);
    else I *= in.shape(i);
  }
  if (out.size() == 0) return;
  bool mean = type_ == Mean;
  dispatch_dtype(in.dtype(), [&](auto t) {
    using T = decltype(t);
    const T* src = in.size() ? in.data<T>() : nullptr;
    if (type_ == And || type_ == Or) {
      if constexpr (std::is_same_v<T, bool>) {
        if (type_ == And) reduce_kri(src, out.data<bool>(), K, R, I, false, AndOp{});
        else reduce_kri(src, out.data<bool>(), K, R, I, false, OrOp{});
        return;
      }
    } else if (type_ == Sum || type_ == Prod || type_ == Mean) {
      using O = typename SumOut<T>::type;
      using A = acc_t<O>;
      if (type_ == Prod) reduce_kri(src, out.data<O>(), K, R, I, false, ProdOp<A>{});
      else reduce_kri(src, out.data<O>(), K, R, I, mean, SumOp<A>{});
      return;
    } else if constexpr (!std::is_same_v<T, complex64_t>) {
      using A = acc_t<T>;
      if (type_ == Max) reduce_kri(src, out.data<T>(), K, R, I, false, MaxOp<A>{});
      else reduce_kri(src, out.data<T>(), K, R, I, false, MinOp<A>{});
      return;
    }
    throw std::invalid_argument("[reduce] Unsupported dtype " + dtype_name(in.dtype()) + ".");
  });
}

bool Reduce::is_equivalent(const Primitive& o) const {
  auto& r = static_cast<const Reduce&>(o);
  return type_ == r.type_ && axes_ == r.axes_;
}

namespace {
// Index of the first max (IsMax) or min of a strided line of n values; NaN wins (first NaN).
template <bool IsMax, typename T>
uint32_t arg_line(const T* p, size_t n, size_t stride) {
  using A = acc_t<T>;
  A best = static_cast<A>(p[0]);
  uint32_t bi = 0;
  if (best != best) return 0;
  for (size_t j = 1; j < n; ++j) {
    A x = static_cast<A>(p[j * stride]);
    if (x != x) return static_cast<uint32_t>(j);
    if (IsMax ? x > best : x < best) {
      best = x;
      bi = static_cast<uint32_t>(j);
    }
  }
  return bi;
}

template <bool IsMax, typename T>
void arg_reduce(const T* src, uint32_t* dst, const cpu::AxisLayout& L) {
  using A = acc_t<T>;
  if (L.inner == 1) {
    cpu::parallel_for(L.outer, std::max<size_t>(1, kGrain / L.n), [&](size_t b, size_t e) {
      for (size_t o = b; o < e; ++o) dst[o] = arg_line<IsMax>(src + o * L.n, L.n, 1);
    });
    return;
  }
  // Column layout: keep the best value and index per inner position, updated row by row.
  constexpr size_t B = 512;
  size_t nb = (L.inner + B - 1) / B;
  cpu::parallel_for(L.outer * nb, std::max<size_t>(1, kGrain / (L.n * B)), [&](size_t b, size_t e) {
    A best[B];
    uint32_t idx[B];
    unsigned char nan[B];
    for (size_t w = b; w < e; ++w) {
      size_t o = w / nb, i0 = (w % nb) * B, len = std::min(B, L.inner - i0);
      const T* base = src + o * L.n * L.inner + i0;
      for (size_t i = 0; i < len; ++i) {
        best[i] = static_cast<A>(base[i]);
        idx[i] = 0;
        nan[i] = best[i] != best[i];
      }
      for (size_t j = 1; j < L.n; ++j) {
        const T* row = base + j * L.inner;
        uint32_t jj = static_cast<uint32_t>(j);
        for (size_t i = 0; i < len; ++i) {
          A x = static_cast<A>(row[i]);
          bool take = !nan[i] && ((IsMax ? x > best[i] : x < best[i]) || x != x);
          best[i] = take ? x : best[i];
          idx[i] = take ? jj : idx[i];
          nan[i] = nan[i] | (x != x);
        }
      }
      uint32_t* d = dst + o * L.inner + i0;
      for (size_t i = 0; i < len; ++i) d[i] = idx[i];
    }
  });
}
}  // namespace

void ArgReduce::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array in = cpu::row_contiguous_input(inputs[0]);
  array& out = outputs[0];
  out.set_data(allocator::malloc(out.nbytes()));
  if (out.size() == 0) return;
  cpu::AxisLayout L(in.shape(), axis_);
  dispatch_dtype(in.dtype(), [&](auto t) {
    using T = decltype(t);
    if constexpr (std::is_same_v<T, complex64_t>) {
      throw std::invalid_argument("[argmax] Not supported for complex64.");
    } else {
      if (type_ == ArgMax) arg_reduce<true>(in.data<T>(), out.data<uint32_t>(), L);
      else arg_reduce<false>(in.data<T>(), out.data<uint32_t>(), L);
    }
  });
}

bool ArgReduce::is_equivalent(const Primitive& o) const {
  auto& r = static_cast<const ArgReduce&>(o);
  return type_ == r.type_ && axis_ == r.axis_;
}

void Variance::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array in = cpu::row_contiguous_input(inputs[0]);
  array& out = outputs[0];
  out.set_data(allocator::malloc(out.nbytes()));
  if (out.size() == 0) return;
  size_t n = in.shape().back();
  size_t rows = out.size();
  double denom = std::max<double>(static_cast<double>(n) - ddof_, 0.0);
  dispatch_float(in.dtype(), "var", [&](auto t) {
    using T = decltype(t);
    const T* src = in.data<T>();
    T* dst = out.data<T>();
    cpu::parallel_for(rows, std::max<size_t>(1, kGrain / std::max<size_t>(n, 1)), [&](size_t b, size_t e) {
      for (size_t r = b; r < e; ++r) {
        const T* p = src + r * n;
        // Two passes in double: the mean, then the squared deviations.
        double m = reduce_contiguous<double>(p, n, SumOp<double>{}) / static_cast<double>(n);
        constexpr int W = 8;
        double acc[W] = {};
        size_t i = 0;
        for (; i + W <= n; i += W) {
          for (int j = 0; j < W; ++j) {
            double d = static_cast<double>(p[i + j]) - m;
            acc[j] += d * d;
          }
        }
        double ss = 0;
        for (int j = 0; j < W; ++j) ss += acc[j];
        for (; i < n; ++i) ss += (static_cast<double>(p[i]) - m) * (static_cast<double>(p[i]) - m);
        double v = ss / denom;
        dst[r] = static_cast<T>(static_cast<acc_t<T>>(sqrt_ ? std::sqrt(v) : v));
      }
    });
  });
}

bool Variance::is_equivalent(const Primitive& o) const {
  auto& r = static_cast<const Variance&>(o);
  return ddof_ == r.ddof_ && sqrt_ == r.sqrt_;
}

}  // namespace tessera
