// Strided copy/cast kernels: a fast contiguous path and a general strided walk.
#include "tessera/backend/cpu/copy.h"

#include <cstring>

#include "tessera/backend/common/utils.h"
#include "tessera/backend/cpu/threading.h"

namespace tessera::cpu {

namespace {
template <typename To, typename From>
inline To cast(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (std::is_same_v<To, complex64_t>) {
    if constexpr (std::is_same_v<From, complex64_t>) return v;
    else return complex64_t(static_cast<float>(static_cast<acc_t<From>>(v)), 0.0f);
  } else if constexpr (std::is_same_v<From, complex64_t>) {
    return To(static_cast<acc_t<To>>(v.real()));
  } else if constexpr (std::is_same_v<To, bool>) {
    return static_cast<acc_t<From>>(v) != acc_t<From>(0);
  } else {
    return static_cast<To>(static_cast<acc_t<To>>(static_cast<acc_t<From>>(v)));
  }
}

template <typename From, typename To>
void copy_kernel(const From* src, const Shape& shape, const Strides& src_st, To* dst, const Strides& dst_st) {
  auto [cs, st] = collapse_contiguous_dims(shape, {src_st, dst_st});
  size_t n = 1;
  for (auto d : cs) n *= d;
  if (cs.size() == 1 && st[0][0] == 1 && st[1][0] == 1) {
    if constexpr (std::is_same_v<From, To>) {
      parallel_for(n, 1 << 18, [&](size_t b, size_t e) { std::memcpy(dst + b, src + b, (e - b) * sizeof(To)); });
    } else {
      parallel_for(n, 1 << 16, [&](size_t b, size_t e) {
        for (size_t i = b; i < e; ++i) dst[i] = cast<To>(src[i]);
      });
    }
    return;
  }
  // General strided walk; the innermost dim is a tight loop.
  int nd = static_cast<int>(cs.size());
  int64_t inner = cs[nd - 1], s_in = st[0][nd - 1], d_in = st[1][nd - 1];
  size_t outer = n / inner;
  Shape oshape(cs.begin(), cs.end() - 1);
  Strides os0(st[0].begin(), st[0].end() - 1), os1(st[1].begin(), st[1].end() - 1);
  parallel_for(outer, std::max<size_t>(1, (1 << 16) / std::max<int64_t>(inner, 1)), [&](size_t b, size_t e) {
    StridedWalker<2> w(oshape, {os0, os1});
    w.seek(b);
    for (size_t o = b; o < e; ++o) {
      const From* s = src + w.loc[0];
      To* d = dst + w.loc[1];
      for (int64_t i = 0; i < inner; ++i) d[i * d_in] = cast<To>(s[i * s_in]);
      w.next();
    }
  });
}
}  // namespace

void copy_strided_into(const array& in, array& dst, const Strides& dst_strides, int64_t dst_offset) {
  if (in.size() == 0) return;
  dispatch_dtype(in.dtype(), [&](auto s) {
    using S = decltype(s);
    dispatch_dtype(dst.dtype(), [&](auto d) {
      using D = decltype(d);
      copy_kernel<S, D>(in.data<S>(), in.shape(), in.strides(), dst.data<D>() + dst_offset, dst_strides);
    });
  });
}

void copy_to_contiguous(const array& in, array& out) {
  out.set_data(allocator::malloc(out.nbytes()));
  // Row-major over in's shape (out may have another shape of the same size, e.g. a reshape).
  copy_strided_into(in, out, row_major_strides(in.shape()), 0);
}

void make_contiguous(const array& in, array& out) {
  if (in.flags().row_contiguous && in.dtype() == out.dtype() && in.data_size() == in.size()) {
    out.copy_shared_buffer(in);
  } else {
    copy_to_contiguous(in, out);
  }
}

}  // namespace tessera::cpu
