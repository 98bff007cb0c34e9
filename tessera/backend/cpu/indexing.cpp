// CPU evaluation of indexing primitives: gather/scatter, along-axis variants, slice updates.
#include <cstring>
#include <string>

#include "tessera/backend/common/utils.h"
#include "tessera/backend/cpu/copy.h"
#include "tessera/backend/cpu/threading.h"
#include "tessera/primitives/indexing.h"

namespace tessera {

namespace {

// Calls f(T{}) with T the C++ type of an integer dtype.
template <typename F>
void dispatch_index(Dtype d, const char* op, F&& f) {
  switch (d.val) {
    case Dtype::Val::uint8: return f(uint8_t{});
    case Dtype::Val::uint16: return f(uint16_t{});
    case Dtype::Val::uint32: return f(uint32_t{});
    case Dtype::Val::uint64: return f(uint64_t{});
    case Dtype::Val::int8: return f(int8_t{});
    case Dtype::Val::int16: return f(int16_t{});
    case Dtype::Val::int32: return f(int32_t{});
    case Dtype::Val::int64: return f(int64_t{});
    default: throw std::invalid_argument(std::string("[") + op + "] indices must be integers, got " + dtype_name(d) + ".");
  }
}

// Calls f(T{}) with an unsigned type of the dtype's size (pure data movement).
template <typename F>
void dispatch_bytes(size_t itemsize, F&& f) {
  switch (itemsize) {
    case 1: return f(uint8_t{});
    case 2: return f(uint16_t{});
    case 4: return f(uint32_t{});
    default: return f(uint64_t{});
  }
}

// Values of an integer array in row-major logical order as int64.
std::vector<int64_t> load_indices(const array& idx, const char* op) {
  std::vector<int64_t> out(idx.size());
  dispatch_index(idx.dtype(), op, [&](auto t) {
    using I = decltype(t);
    const I* p = idx.data<I>();
    if (idx.flags().row_contiguous && idx.data_size() == idx.size()) {
      for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<int64_t>(p[i]);
    } else {
      StridedWalker<1> w(idx.shape(), {idx.strides()});
      for (size_t i = 0; i < out.size(); ++i, w.next()) out[i] = static_cast<int64_t>(p[w.loc[0]]);
    }
  });
  return out;
}

// Wraps a negative index and checks that a slice of `span` elements fits at it in a dim of size n.
inline int64_t checked_index(int64_t v, int64_t n, int64_t span, int axis, const char* op) {
  int64_t w = v < 0 ? v + n : v;
  if (w < 0 || w + span > n) {
    throw std::out_of_range(std::string("[") + op + "] index " + std::to_string(v) + " is out of bounds for axis " +
                            std::to_string(axis) + " with size " + std::to_string(n) + ".");
  }
  return w;
}

// The output holds `in`'s values row-major: reuses in's buffer when it can be donated.
void copy_or_donate(const array& in, array& out) {
  if (in.dtype() == out.dtype() && in.is_donatable()) {
    out.copy_shared_buffer(in);
  } else {
    cpu::copy_to_contiguous(in, out);
  }
}

// Element offsets of a strided block of `shape`, split as (outer offsets, inner count, inner stride).
struct Block {
  std::vector<int64_t> outer;
  int64_t inner{1}, stride{0};
};
Block block_offsets(const Shape& shape, const Strides& strides) {
  auto [cs, st] = collapse_contiguous_dims(shape, {strides});
  Block b;
  int nd = static_cast<int>(cs.size());
  b.inner = cs[nd - 1];
  b.stride = st[0][nd - 1];
  Shape os(cs.begin(), cs.end() - 1);
  Strides ost(st[0].begin(), st[0].end() - 1);
  size_t n = shape_size(os);
  b.outer.resize(n);
  StridedWalker<1> w(os, {ost});
  for (size_t i = 0; i < n; ++i, w.next()) b.outer[i] = w.loc[0];
  return b;
}

// Row-contiguous data of `a` (a itself, or a converted temporary).
array contiguous_input(const array& a) {
  if (a.flags().row_contiguous && a.data_size() == a.size()) return a;
  array tmp(a.shape(), a.dtype(), nullptr, {});
  cpu::copy_to_contiguous(a, tmp);
  return tmp;
}

template <typename T>
inline T combine(ScatterReduce r, T old, T u) {
  if constexpr (std::is_same_v<T, bool>) {
    switch (r) {
      case ScatterReduce::sum: case ScatterReduce::max: return old || u;
      case ScatterReduce::prod: case ScatterReduce::min: return old && u;
      default: return u;
    }
  } else if constexpr (std::is_same_v<T, complex64_t>) {
    return r == ScatterReduce::sum ? old + u : r == ScatterReduce::prod ? old * u : u;
  } else {
    using A = acc_t<T>;
    A x = static_cast<A>(old), y = static_cast<A>(u);
    switch (r) {
      case ScatterReduce::sum: return T(x + y);
      case ScatterReduce::prod: return T(x * y);
      case ScatterReduce::max: return (y > x || y != y) ? u : old;  // NaN propagates
      case ScatterReduce::min: return (y < x || y != y) ? u : old;
      default: return u;
    }
  }
}

}  // namespace

void Gather::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& a = inputs[0];
  auto& out = outputs[0];
  out.set_data(allocator::malloc(out.nbytes()));
  size_t nidx = inputs.size() > 1 ? inputs[1].size() : 1;
  // Base offset of each gathered slice.
  std::vector<int64_t> base(nidx, 0);
  for (size_t k = 0; k < axes_.size(); ++k) {
    int ax = axes_[k];
    auto v = load_indices(inputs[k + 1], "gather");
    for (size_t i = 0; i < nidx; ++i) base[i] += checked_index(v[i], a.shape(ax), slice_sizes_[ax], ax, "gather") * a.strides()[ax];
  }
  if (out.size() == 0) return;
  auto blk = block_offsets(slice_sizes_, a.strides());
  size_t nouter = blk.outer.size();
  int64_t inner = blk.inner, st = blk.stride;
  dispatch_bytes(a.itemsize(), [&](auto t) {
    using T = decltype(t);
    const T* src = a.data<T>();
    T* dst = out.data<T>();
    cpu::parallel_for(nidx * nouter, std::max<size_t>(1, (1 << 14) / inner), [&](size_t b, size_t e) {
      for (size_t q = b; q < e; ++q) {
        const T* s = src + base[q / nouter] + blk.outer[q % nouter];
        T* d = dst + q * inner;
        if (st == 1) {
          std::memcpy(d, s, inner * sizeof(T));
        } else {
          for (int64_t j = 0; j < inner; ++j) d[j] = s[j * st];
        }
      }
    });
  });
}
bool Gather::is_equivalent(const Primitive& o) const {
  auto& g = static_cast<const Gather&>(o);
  return axes_ == g.axes_ && slice_sizes_ == g.slice_sizes_;
}

void Scatter::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  copy_or_donate(inputs[0], out);
  auto upd = contiguous_input(inputs.back());
  int nd = out.ndim();
  Shape ushape(upd.shape().end() - nd, upd.shape().end());
  auto ost = row_major_strides(out.shape());
  size_t nidx = inputs.size() > 2 ? inputs[1].size() : 1;
  std::vector<int64_t> base(nidx, 0);
  for (size_t k = 0; k < axes_.size(); ++k) {
    int ax = axes_[k];
    auto v = load_indices(inputs[k + 1], "scatter");
    for (size_t i = 0; i < nidx; ++i) base[i] += checked_index(v[i], out.shape(ax), ushape[ax], ax, "scatter") * ost[ax];
  }
  size_t usize = shape_size(ushape);
  if (usize == 0 || nidx == 0) return;
  auto blk = block_offsets(ushape, ost);
  size_t nouter = blk.outer.size();
  int64_t inner = blk.inner, st = blk.stride;
  auto run = [&](auto t, auto op) {
    using T = decltype(t);
    const T* u = upd.data<T>();
    T* dst = out.data<T>();
    // Index positions in order (later duplicates win / accumulate); each slice in parallel.
    for (size_t i = 0; i < nidx; ++i) {
      const T* ui = u + i * usize;
      T* di = dst + base[i];
      cpu::parallel_for(nouter, std::max<size_t>(1, (1 << 14) / inner), [&](size_t b, size_t e) {
        for (size_t q = b; q < e; ++q) {
          T* d = di + blk.outer[q];
          const T* s = ui + q * inner;
          for (int64_t j = 0; j < inner; ++j) d[j * st] = op(d[j * st], s[j]);
        }
      });
    }
  };
  if (reduce_ == ScatterReduce::none) {
    dispatch_bytes(out.itemsize(), [&](auto t) { run(t, [](auto, auto y) { return y; }); });
  } else {
    dispatch_dtype(out.dtype(), [&](auto t) {
      using T = decltype(t);
      auto r = reduce_;
      run(t, [r](T x, T y) { return combine<T>(r, x, y); });
    });
  }
}
bool Scatter::is_equivalent(const Primitive& o) const {
  auto& g = static_cast<const Scatter&>(o);
  return axes_ == g.axes_ && reduce_ == g.reduce_;
}

void GatherAxis::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& a = inputs[0];
  auto& out = outputs[0];
  out.set_data(allocator::malloc(out.nbytes()));
  auto idx = load_indices(inputs[1], "take_along_axis");
  int64_t n = a.shape(axis_), ast = a.strides()[axis_];
  for (auto& v : idx) v = checked_index(v, n, 1, axis_, "take_along_axis") * ast;
  if (out.size() == 0) return;
  Strides st = a.strides();
  st[axis_] = 0;
  dispatch_bytes(a.itemsize(), [&](auto t) {
    using T = decltype(t);
    const T* src = a.data<T>();
    T* dst = out.data<T>();
    cpu::parallel_for(out.size(), 1 << 14, [&](size_t b, size_t e) {
      StridedWalker<1> w(out.shape(), {st});
      w.seek(b);
      for (size_t i = b; i < e; ++i, w.next()) dst[i] = src[w.loc[0] + idx[i]];
    });
  });
}
bool GatherAxis::is_equivalent(const Primitive& o) const { return axis_ == static_cast<const GatherAxis&>(o).axis_; }

void ScatterAxis::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  copy_or_donate(inputs[0], out);
  auto& vals = inputs[2];
  auto idx = load_indices(inputs[1], "put_along_axis");
  auto ost = row_major_strides(out.shape());
  int64_t n = out.shape(axis_);
  for (auto& v : idx) v = checked_index(v, n, 1, axis_, "put_along_axis") * ost[axis_];
  if (vals.size() == 0) return;
  Strides st = ost;
  st[axis_] = 0;
  dispatch_dtype(out.dtype(), [&](auto t) {
    using T = decltype(t);
    const T* v = vals.data<T>();
    T* dst = out.data<T>();
    StridedWalker<2> w(vals.shape(), {st, vals.strides()});
    for (size_t i = 0; i < vals.size(); ++i, w.next()) {
      T& d = dst[w.loc[0] + idx[i]];
      d = reduce_ == ScatterReduce::none ? v[w.loc[1]] : combine<T>(reduce_, d, v[w.loc[1]]);
    }
  });
}
bool ScatterAxis::is_equivalent(const Primitive& o) const {
  auto& g = static_cast<const ScatterAxis&>(o);
  return axis_ == g.axis_ && reduce_ == g.reduce_;
}

void SliceUpdate::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  copy_or_donate(inputs[0], out);
  auto ost = row_major_strides(out.shape());
  Strides dst(ost.size());
  int64_t off = 0;
  for (size_t d = 0; d < ost.size(); ++d) {
    dst[d] = ost[d] * strides_[d];
    off += static_cast<int64_t>(start_[d]) * ost[d];
  }
  cpu::copy_strided_into(inputs[1], out, dst, off);
}
bool SliceUpdate::is_equivalent(const Primitive& o) const {
  auto& g = static_cast<const SliceUpdate&>(o);
  return start_ == g.start_ && strides_ == g.strides_;
}

namespace {
// Element offset of a dynamic slice of `size` (per dim) starting at `start` (one per axis).
int64_t dynamic_offset(const array& start, const std::vector<int>& axes, const Shape& in_shape, const Shape& size,
                       const Strides& strides, const char* op) {
  auto v = load_indices(start, op);
  int64_t off = 0;
  for (size_t k = 0; k < axes.size(); ++k) {
    int ax = axes[k];
    int64_t n = in_shape[ax], s = v[k] < 0 ? v[k] + n : v[k];
    off += std::clamp<int64_t>(s, 0, n - size[ax]) * strides[ax];
  }
  return off;
}
}  // namespace

void DynamicSlice::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& out = outputs[0];
  int64_t off = dynamic_offset(inputs[1], axes_, in.shape(), out.shape(), in.strides(), "dynamic_slice");
  if (out.size() == 0) off = 0;
  size_t data_size;
  auto flags = flags_for(out.shape(), in.strides(), &data_size);
  out.copy_shared_buffer(in, in.strides(), flags, data_size, off * static_cast<int64_t>(in.itemsize()));
}
bool DynamicSlice::is_equivalent(const Primitive& o) const { return axes_ == static_cast<const DynamicSlice&>(o).axes_; }

void DynamicSliceUpdate::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  copy_or_donate(inputs[0], out);
  auto ost = row_major_strides(out.shape());
  int64_t off = dynamic_offset(inputs[2], axes_, out.shape(), inputs[1].shape(), ost, "dynamic_slice_update");
  cpu::copy_strided_into(inputs[1], out, ost, off);
}
bool DynamicSliceUpdate::is_equivalent(const Primitive& o) const {
  return axes_ == static_cast<const DynamicSliceUpdate&>(o).axes_;
}

}  // namespace tessera
