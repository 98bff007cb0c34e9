// The CPU unary elementwise kernel template: contiguous fast path (with buffer donation) and a
// strided path. Op is a functor with a templated `T operator()(T)` (computed in acc_t for f16/bf16).
#pragma once

#include "tessera/array.h"
#include "tessera/backend/common/utils.h"
#include "tessera/backend/cpu/threading.h"

namespace tessera::cpu {

// Output buffer for an elementwise result shaped like `in` (dense layout, any order): reuses the
// input's buffer when it can be donated, else allocates one with the same strides.
inline void set_unary_output(const array& in, array& out) {
  if (in.flags().contiguous && in.itemsize() == out.itemsize() && in.is_donatable()) {
    out.copy_shared_buffer(in);
  } else if (in.flags().contiguous) {
    out.set_data(allocator::malloc(in.data_size() * out.itemsize()), in.data_size(), in.strides(), in.flags());
  } else {
    out.set_data(allocator::malloc(out.nbytes()));
  }
}

template <typename In, typename Out, typename Op>
void unary_kernel(const array& in, array& out, Op op) {
  if (in.flags().contiguous) {
    set_unary_output(in, out);
    const In* src = in.data<In>();
    Out* dst = out.data<Out>();
    parallel_for(in.data_size(), 1 << 14, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) dst[i] = static_cast<Out>(op(src[i]));
    });
    return;
  }
  out.set_data(allocator::malloc(out.nbytes()));
  const In* src = in.data<In>();
  Out* dst = out.data<Out>();
  auto [shape, st] = collapse_contiguous_dims(in.shape(), {in.strides()});
  int nd = static_cast<int>(shape.size());
  int64_t inner = shape[nd - 1], s0 = st[0][nd - 1];
  size_t outer = out.size() / std::max<int64_t>(inner, 1);
  Shape os(shape.begin(), shape.end() - 1);
  Strides ost(st[0].begin(), st[0].end() - 1);
  parallel_for(outer, std::max<size_t>(1, (1 << 14) / std::max<int64_t>(inner, 1)), [&](size_t b, size_t e) {
    StridedWalker<1> w(os, {ost});
    w.seek(b);
    for (size_t o = b; o < e; ++o) {
      const In* s = src + w.loc[0];
      Out* d = dst + o * inner;
      for (int64_t i = 0; i < inner; ++i) d[i] = static_cast<Out>(op(s[i * s0]));
      w.next();
    }
  });
}

}  // namespace tessera::cpu
