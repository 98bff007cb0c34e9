// CPU kernels for Scan (cumsum/cumprod/cummax/cummin): sequential along rows, vectorized across
// columns when the scanned axis is not the last.
#include <algorithm>
#include <limits>

#include "tessera/backend/cpu/reduce_utils.h"
#include "tessera/backend/cpu/threading.h"
#include "tessera/primitives/reduce.h"

namespace tessera {

namespace {

template <typename A>
A scan_init(Scan::ReduceType t) {
  if (t == Scan::Sum) return A(0);
  if (t == Scan::Prod) return A(1);
  if constexpr (!std::is_same_v<A, complex64_t>) {
    if constexpr (std::numeric_limits<A>::has_infinity) {
      return t == Scan::Max ? -std::numeric_limits<A>::infinity() : std::numeric_limits<A>::infinity();
    } else {
      return t == Scan::Max ? std::numeric_limits<A>::lowest() : std::numeric_limits<A>::max();
    }
  }
  return A(0);
}

template <typename T, typename Op>
void scan_typed(const T* src, T* dst, const cpu::AxisLayout& L, bool reverse, bool inclusive, Scan::ReduceType t,
                Op op) {
  using A = acc_t<T>;
  const A init = scan_init<A>(t);
  const size_t n = L.n, inner = L.inner;
  // Position of step j along the axis (reversed scans walk from the end).
  auto pos = [&](size_t j) { return reverse ? n - 1 - j : j; };
  if (inner == 1) {
    cpu::parallel_for(L.outer, std::max<size_t>(1, (1 << 14) / std::max<size_t>(n, 1)), [&](size_t b, size_t e) {
      for (size_t o = b; o < e; ++o) {
        const T* s = src + o * n;
        T* d = dst + o * n;
        A acc = init;
        for (size_t j = 0; j < n; ++j) {
          size_t p = pos(j);
          A x = static_cast<A>(s[p]);
          if (inclusive) {
            acc = op(acc, x);
            d[p] = static_cast<T>(acc);
          } else {
            d[p] = static_cast<T>(acc);
            acc = op(acc, x);
          }
        }
      }
    });
    return;
  }
  constexpr size_t B = 512;
  size_t nb = (inner + B - 1) / B;
  cpu::parallel_for(L.outer * nb, std::max<size_t>(1, (1 << 14) / (n * B + 1)), [&](size_t b, size_t e) {
    A acc[B];
    for (size_t w = b; w < e; ++w) {
      size_t o = w / nb, i0 = (w % nb) * B, len = std::min(B, inner - i0);
      const T* s = src + o * n * inner + i0;
      T* d = dst + o * n * inner + i0;
      for (size_t i = 0; i < len; ++i) acc[i] = init;
      for (size_t j = 0; j < n; ++j) {
        size_t p = pos(j) * inner;
        if (inclusive) {
          for (size_t i = 0; i < len; ++i) {
            acc[i] = op(acc[i], static_cast<A>(s[p + i]));
            d[p + i] = static_cast<T>(acc[i]);
          }
        } else {
          for (size_t i = 0; i < len; ++i) {
            d[p + i] = static_cast<T>(acc[i]);
            acc[i] = op(acc[i], static_cast<A>(s[p + i]));
          }
        }
      }
    }
  });
}

}  // namespace

void Scan::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array in = cpu::row_contiguous_input(inputs[0]);
  array& out = outputs[0];
  out.set_data(allocator::malloc(out.nbytes()));
  if (out.size() == 0) return;
  cpu::AxisLayout L(in.shape(), axis_);
  dispatch_dtype(in.dtype(), [&](auto t) {
    using T = decltype(t);
    using A = acc_t<T>;
    const T* s = in.data<T>();
    T* d = out.data<T>();
    switch (type_) {
      case Sum:
        if constexpr (!std::is_same_v<T, bool>) scan_typed(s, d, L, reverse_, inclusive_, type_, [](A a, A x) { return A(a + x); });
        return;
      case Prod:
        if constexpr (!std::is_same_v<T, bool>) scan_typed(s, d, L, reverse_, inclusive_, type_, [](A a, A x) { return A(a * x); });
        return;
      case Max:
        if constexpr (!std::is_same_v<T, complex64_t>) {
          scan_typed(s, d, L, reverse_, inclusive_, type_, [](A a, A x) { return (x > a || x != x) ? x : a; });
        }
        return;
      case Min:
        if constexpr (!std::is_same_v<T, complex64_t>) {
          scan_typed(s, d, L, reverse_, inclusive_, type_, [](A a, A x) { return (x < a || x != x) ? x : a; });
        }
        return;
    }
  });
}

bool Scan::is_equivalent(const Primitive& o) const {
  auto& r = static_cast<const Scan&>(o);
  return type_ == r.type_ && axis_ == r.axis_ && reverse_ == r.reverse_ && inclusive_ == r.inclusive_;
}

}  // namespace tessera
