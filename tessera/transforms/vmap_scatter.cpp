// vmap rules of scatter, put_along_axis/scatter_add_axis, slice updates and dynamic slices: the batch
// goes first everywhere; a batched index or start becomes an index along the new batch axis.
#include "tessera/primitives/indexing.h"
#include "tessera/transforms/rules_common.h"

namespace tessera {

using VmapOut = std::pair<std::vector<array>, std::vector<int>>;

namespace {
array scatter_by(ScatterReduce r, const array& a, const std::vector<array>& idx, const array& upd,
                 const std::vector<int>& axes) {
  switch (r) {
    case ScatterReduce::sum: return scatter_add(a, idx, upd, axes);
    case ScatterReduce::prod: return scatter_prod(a, idx, upd, axes);
    case ScatterReduce::max: return scatter_max(a, idx, upd, axes);
    case ScatterReduce::min: return scatter_min(a, idx, upd, axes);
    default: return scatter(a, idx, upd, axes);
  }
}
std::vector<int> shifted(const std::vector<int>& axes) {
  std::vector<int> r;
  for (int a : axes) r.push_back(a + 1);
  return r;
}
// The shape of one example of a batch-first array.
Shape example_shape(const array& batched) { return Shape(batched.shape().begin() + 1, batched.shape().end()); }
// start (n, k) per example, wrapped and clamped as dynamic_slice does for a slice of `size` of an
// array of shape `shape` along axes.
array clamp_start(const array& start, const Shape& shape, const std::vector<int>& axes, const Shape& size) {
  std::vector<int> dims, hi;
  for (size_t k = 0; k < axes.size(); ++k) {
    dims.push_back(shape[axes[k]]);
    hi.push_back(shape[axes[k]] - size[axes[k]]);
  }
  auto s = astype(start, int32);
  auto d = array(dims, {static_cast<ShapeElem>(dims.size())}, int32);
  s = where(less(s, array(0, int32)), add(s, d), s);
  return clip(s, array(0, int32), array(hi, {static_cast<ShapeElem>(hi.size())}, int32));
}
}  // namespace

// inputs: a, idx (I each), updates (I + one dim per dim of a).
VmapOut Scatter::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  int n = rules::batch_size(in, ax);
  size_t nu = in.size() - 1;
  auto a = rules::batch_first(in[0], ax[0], n);
  bool idx_or_upd_mapped = false;
  for (size_t i = 1; i < in.size(); ++i) idx_or_upd_mapped |= ax[i] >= 0;
  if (!idx_or_upd_mapped) {  // the same positions in every example: one more whole dim in the updates
    std::vector<array> idx(in.begin() + 1, in.begin() + nu);
    const array& u = in[nu];
    int ind = u.ndim() - (a.ndim() - 1);
    Shape s = u.shape();
    s.insert(s.begin() + ind, n);
    return {{scatter_by(reduce_, a, idx, broadcast_to(expand_dims(u, ind), s), shifted(axes_))}, {0}};
  }
  // Index tuples gain the example number along the batch axis.
  std::vector<array> idx;
  for (size_t i = 1; i < nu; ++i) idx.push_back(rules::batch_first(in[i], ax[i], n));
  auto u = rules::batch_first(in[nu], ax[nu], n);  // (n, I..., slice...)
  int ind = u.ndim() - a.ndim();  // the dims of I
  Shape bs(ind + 1, 1);
  bs[0] = n;
  idx.insert(idx.begin(), reshape(arange(0, n), bs));
  auto axes = shifted(axes_);
  axes.insert(axes.begin(), 0);
  return {{scatter_by(reduce_, a, idx, expand_dims(u, ind + 1), axes)}, {0}};
}

VmapOut ScatterAxis::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  int n = rules::batch_size(in, ax);
  auto a = rules::batch_first(in[0], ax[0], n);
  auto idx = rules::batch_first(in[1], ax[1], n);
  auto v = rules::batch_first(in[2], ax[2], n);
  if (reduce_ == ScatterReduce::sum) return {{scatter_add_axis(a, idx, v, axis_ + 1)}, {0}};
  if (reduce_ != ScatterReduce::none) throw std::invalid_argument("[ScatterAxis] vmap supports plain and sum scatters.");
  return {{put_along_axis(a, idx, v, axis_ + 1)}, {0}};
}

// inputs: src, update (the slice's shape).
VmapOut SliceUpdate::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  int n = rules::batch_size(in, ax);
  auto src = rules::batch_first(in[0], ax[0], n);
  auto upd = rules::batch_first(in[1], ax[1], n);
  Shape start = start_, strides = strides_;
  start.insert(start.begin(), 0);
  strides.insert(strides.begin(), 1);
  return {{array(src.shape(), src.dtype(), std::make_shared<SliceUpdate>(stream(), start, strides), {src, upd})}, {0}};
}

// inputs: a, start (k,). A batched start gathers each example's slice (take_along_axis per axis).
VmapOut DynamicSlice::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  int n = rules::batch_size(in, ax);
  Shape size = rules::current_outputs(name())[0].shape();
  auto a = rules::batch_first(in[0], ax[0], n);
  if (ax[1] < 0) {
    Shape s = size;
    s.insert(s.begin(), n);
    return {{dynamic_slice(a, in[1], shifted(axes_), s)}, {0}};
  }
  auto start = clamp_start(rules::batch_first(in[1], ax[1], n), example_shape(a), axes_, size);  // (n, k)
  for (size_t k = 0; k < axes_.size(); ++k) {
    int axis = axes_[k] + 1;
    Shape ps(a.ndim(), 1);
    ps[0] = n;
    ps[axis] = size[axes_[k]];
    auto pos = reshape(arange(0, static_cast<int>(size[axes_[k]])), {size[axes_[k]]});
    auto first = take(start, static_cast<int>(k), 1);  // (n,)
    auto idx = reshape(add(reshape(first, {n, 1}), reshape(pos, {1, size[axes_[k]]})), ps);
    Shape bs = a.shape();
    bs[axis] = size[axes_[k]];
    a = take_along_axis(a, broadcast_to(idx, bs), axis);
  }
  return {{a}, {0}};
}

// inputs: src, update, start (k,). A batched start scatters each example's update at its position.
VmapOut DynamicSliceUpdate::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  int n = rules::batch_size(in, ax);
  auto src = rules::batch_first(in[0], ax[0], n);
  auto upd = rules::batch_first(in[1], ax[1], n);
  if (ax[2] < 0) return {{dynamic_slice_update(src, upd, in[2], shifted(axes_))}, {0}};
  auto start = clamp_start(rules::batch_first(in[2], ax[2], n), example_shape(src), axes_,
                           example_shape(upd));  // (n, k)
  std::vector<array> idx{arange(0, n)};
  for (size_t k = 0; k < axes_.size(); ++k) idx.push_back(take(start, static_cast<int>(k), 1));
  auto axes = shifted(axes_);
  axes.insert(axes.begin(), 0);
  return {{scatter(src, idx, expand_dims(upd, 1), axes)}, {0}};
}

}  // namespace tessera
