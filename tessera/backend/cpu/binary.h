// The CPU binary elementwise kernel template: scalar-vector, vector-vector and general
// broadcast/strided paths. Op is a functor with a templated `R operator()(T, T)`.
#pragma once

#include "tessera/array.h"
#include "tessera/backend/common/utils.h"
#include "tessera/backend/cpu/threading.h"

namespace tessera::cpu {

template <typename T, typename Out, typename Op>
void binary_kernel(const array& a, const array& b, array& out, Op op) {
  auto same_layout = [](const array& x, const array& y) {
    return x.flags().row_contiguous && y.flags().row_contiguous && x.data_size() == x.size() &&
           y.data_size() == y.size();
  };
  auto alloc_out = [&](const array& like) {
    if (like.itemsize() == out.itemsize() && like.is_donatable() && like.shape() == out.shape()) {
      out.copy_shared_buffer(like);
    } else {
      out.set_data(allocator::malloc(out.nbytes()));
    }
  };
  const size_t n = out.size();
  constexpr size_t grain = 1 << 14;
  if (a.data_size() == 1 && same_layout(b, b) && b.shape() == out.shape()) {
    alloc_out(b);
    const T av = a.data<T>()[0];
    const T* bp = b.data<T>();
    Out* o = out.data<Out>();
    parallel_for(n, grain, [&](size_t s, size_t e) {
      for (size_t i = s; i < e; ++i) o[i] = op(av, bp[i]);
    });
    return;
  }
  if (b.data_size() == 1 && same_layout(a, a) && a.shape() == out.shape()) {
    alloc_out(a);
    const T* ap = a.data<T>();
    const T bv = b.data<T>()[0];
    Out* o = out.data<Out>();
    parallel_for(n, grain, [&](size_t s, size_t e) {
      for (size_t i = s; i < e; ++i) o[i] = op(ap[i], bv);
    });
    return;
  }
  if (same_layout(a, b) && a.shape() == out.shape() && b.shape() == out.shape()) {
    if (a.is_donatable()) alloc_out(a); else alloc_out(b);
    const T* ap = a.data<T>();
    const T* bp = b.data<T>();
    Out* o = out.data<Out>();
    parallel_for(n, grain, [&](size_t s, size_t e) {
      for (size_t i = s; i < e; ++i) o[i] = op(ap[i], bp[i]);
    });
    return;
  }
  // General case: inputs already broadcast to out's shape by the op (strides may be 0).
  out.set_data(allocator::malloc(out.nbytes()));
  auto [shape, st] = collapse_contiguous_dims(out.shape(), {a.strides(), b.strides()});
  int nd = static_cast<int>(shape.size());
  int64_t inner = shape[nd - 1], sa = st[0][nd - 1], sb = st[1][nd - 1];
  size_t outer = n / std::max<int64_t>(inner, 1);
  Shape os(shape.begin(), shape.end() - 1);
  Strides osa(st[0].begin(), st[0].end() - 1), osb(st[1].begin(), st[1].end() - 1);
  const T* ap = a.data<T>();
  const T* bp = b.data<T>();
  Out* o = out.data<Out>();
  parallel_for(outer, std::max<size_t>(1, grain / std::max<int64_t>(inner, 1)), [&](size_t s, size_t e) {
    StridedWalker<2> w(os, {osa, osb});
    w.seek(s);
    for (size_t r = s; r < e; ++r) {
      const T* x = ap + w.loc[0];
      const T* y = bp + w.loc[1];
      Out* d = o + r * inner;
      if (sa == 1 && sb == 1) {
        for (int64_t i = 0; i < inner; ++i) d[i] = op(x[i], y[i]);
      } else if (sa == 1 && sb == 0) {
        const T yv = *y;
        for (int64_t i = 0; i < inner; ++i) d[i] = op(x[i], yv);
      } else if (sa == 0 && sb == 1) {
        const T xv = *x;
        for (int64_t i = 0; i < inner; ++i) d[i] = op(xv, y[i]);
      } else {
        for (int64_t i = 0; i < inner; ++i) d[i] = op(x[i * sa], y[i * sb]);
      }
      w.next();
    }
  });
}

}  // namespace tessera::cpu
