// CPU evaluation of comparison (bool results), logical, bitwise and shift primitives, and the
// ternary Select behind `where`.
#include <cstring>

#include "tessera/backend/cpu/elementwise_kernels.h"
#include "tessera/primitives/elementwise.h"

namespace tessera {

namespace {

using cpu::ew::binary_run;

template <bool Complex, typename Op>
void compare(const std::vector<array>& in, array& out, const char* name, Op op) {
  if constexpr (Complex) {
    if (in[0].dtype() == complex64) {
      binary_run<complex64_t, bool>(in[0], in[1], out, op);
      return;
    }
  }
  cpu::ew::dispatch_real(in[0].dtype(), name, [&](auto t) {
    using T = decltype(t);
    binary_run<T, bool>(in[0], in[1], out, op);
  });
}

template <typename Op>
void bitwise(const std::vector<array>& in, array& out, const char* name, Op op) {
  cpu::ew::dispatch_integral(in[0].dtype(), name, [&](auto t) {
    using T = decltype(t);
    binary_run<T, T>(in[0], in[1], out, op);
  });
}

// Select over raw element bits of width sizeof(T): out = c ? x : y.
template <typename T>
void select_kernel(const array& c, const array& x, const array& y, array& out) {
  out.set_data(allocator::malloc(out.nbytes()));
  size_t n = out.size();
  if (n == 0) return;
  const bool* cp = c.data<bool>();
  const T* xp = x.data<T>();
  const T* yp = y.data<T>();
  T* o = out.data<T>();
  auto [shape, st] = collapse_contiguous_dims(out.shape(), {c.strides(), x.strides(), y.strides()});
  int nd = static_cast<int>(shape.size());
  int64_t inner = nd ? shape[nd - 1] : 1;
  int64_t sc = nd ? st[0][nd - 1] : 0, sx = nd ? st[1][nd - 1] : 0, sy = nd ? st[2][nd - 1] : 0;
  size_t outer = n / static_cast<size_t>(std::max<int64_t>(inner, 1));
  Shape os(shape.begin(), shape.end() - (nd ? 1 : 0));
  std::vector<Strides> ost(3);
  for (int k = 0; k < 3; ++k) ost[k] = Strides(st[k].begin(), st[k].end() - (nd ? 1 : 0));
  cpu::parallel_for(outer, std::max<size_t>(1, cpu::ew::kGrain / std::max<int64_t>(inner, 1)), [&](size_t b, size_t e) {
    StridedWalker<3> w(os, ost);
    w.seek(b);
    for (size_t r = b; r < e; ++r) {
      const bool* cr = cp + w.loc[0];
      const T* xr = xp + w.loc[1];
      const T* yr = yp + w.loc[2];
      T* d = o + r * inner;
      if (sc == 1 && sx == 1 && sy == 1) {
        for (int64_t i = 0; i < inner; ++i) d[i] = cr[i] ? xr[i] : yr[i];
      } else {
        for (int64_t i = 0; i < inner; ++i) d[i] = cr[i * sc] ? xr[i * sx] : yr[i * sy];
      }
      w.next();
    }
  });
}

template <typename A>
bool is_negative(A x) {
  if constexpr (std::is_signed_v<A>) return x < 0;
  else return false;
}

// True when shifting an A by y is undefined in C++ (negative or >= the bit width).
template <typename A>
bool out_of_range_shift(A y) {
  return is_negative(y) || static_cast<uint64_t>(y) >= sizeof(A) * 8;
}

}  // namespace

void Equal::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  compare<true>(in, out[0], name(), [](auto x, auto y) { return x == y; });
}
void NotEqual::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  compare<true>(in, out[0], name(), [](auto x, auto y) { return x != y; });
}
void Less::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  compare<false>(in, out[0], name(), [](auto x, auto y) { return x < y; });
}
void LessEqual::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  compare<false>(in, out[0], name(), [](auto x, auto y) { return x <= y; });
}
void Greater::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  compare<false>(in, out[0], name(), [](auto x, auto y) { return x > y; });
}
void GreaterEqual::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  compare<false>(in, out[0], name(), [](auto x, auto y) { return x >= y; });
}

void LogicalAnd::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  binary_run<bool, bool>(in[0], in[1], out[0], [](bool x, bool y) { return x && y; });
}
void LogicalOr::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  binary_run<bool, bool>(in[0], in[1], out[0], [](bool x, bool y) { return x || y; });
}

void BitwiseAnd::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  bitwise(in, out[0], name(), [](auto x, auto y) { return x & y; });
}
void BitwiseOr::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  bitwise(in, out[0], name(), [](auto x, auto y) { return x | y; });
}
void BitwiseXor::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  bitwise(in, out[0], name(), [](auto x, auto y) { return x ^ y; });
}
// Shifts by a negative amount or by the bit width or more give 0 (or -1 for a negative
// right-shifted value), like NumPy, instead of C++'s undefined behaviour.
void LeftShift::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  bitwise(in, out[0], name(), [](auto x, auto y) {
    using A = decltype(x);
    if constexpr (std::is_same_v<A, bool>) {
      return static_cast<bool>(x && !y);  // the op promotes bool; kept for completeness
    } else {
      if (out_of_range_shift<A>(y)) return A(0);
      return static_cast<A>(static_cast<std::make_unsigned_t<A>>(x) << y);
    }
  });
}
void RightShift::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  bitwise(in, out[0], name(), [](auto x, auto y) {
    using A = decltype(x);
    if constexpr (std::is_same_v<A, bool>) {
      return static_cast<bool>(x && !y);
    } else {
      if (out_of_range_shift<A>(y)) return static_cast<A>(is_negative(x) ? -1 : 0);
      return static_cast<A>(x >> y);
    }
  });
}

void Select::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  switch (out[0].itemsize()) {
    case 1: select_kernel<uint8_t>(in[0], in[1], in[2], out[0]); break;
    case 2: select_kernel<uint16_t>(in[0], in[1], in[2], out[0]); break;
    case 4: select_kernel<uint32_t>(in[0], in[1], in[2], out[0]); break;
    case 8: select_kernel<uint64_t>(in[0], in[1], in[2], out[0]); break;
    default: throw std::invalid_argument("[where] unsupported element size.");
  }
}

}  // namespace tessera
