// Shape ops: validate arguments and build view/copy nodes.
#include "tessera/ops/shape.h"

#include <numeric>
#include <set>

#include "tessera/backend/common/utils.h"
#include "tessera/primitives/shape.h"

namespace tessera {

array astype(const array& a, Dtype dtype, StreamOrDevice s) {
  if (a.dtype() == dtype) return a;
  return array(a.shape(), dtype, std::make_shared<AsType>(to_stream(s), dtype), {a});
}

array copy(const array& a, StreamOrDevice s) {
  return array(a.shape(), a.dtype(), std::make_shared<Copy>(to_stream(s)), {a});
}

array contiguous(const array& a, StreamOrDevice s) { return copy(a, s); }

array reshape(const array& a, Shape shape, StreamOrDevice s) {
  int infer = -1;
  size_t known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) throw std::invalid_argument("[reshape] Only one dimension can be -1.");
      infer = static_cast<int>(i);
    } else if (shape[i] < 0) {
      throw std::invalid_argument("[reshape] Invalid dimension " + std::to_string(shape[i]) + ".");
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || a.size() % known != 0) {
      throw std::invalid_argument("[reshape] Cannot infer the shape of an array of size " +
                                  std::to_string(a.size()) + " into " + shape_str(shape) + ".");
    }
    shape[infer] = static_cast<ShapeElem>(a.size() / known);
    known = a.size();
  }
  if (known != a.size()) {
    throw std::invalid_argument("[reshape] Cannot reshape an array of shape " + shape_str(a.shape()) +
                                " into " + shape_str(shape) + ".");
  }
  if (shape == a.shape()) return a;
  auto out_shape = shape;
  return array(std::move(out_shape), a.dtype(), std::make_shared<Reshape>(to_stream(s), std::move(shape)), {a});
}

array flatten(const array& a, int start_axis, int end_axis, StreamOrDevice s) {
  if (a.ndim() == 0) return reshape(a, {1}, s);
  int st = normalize_axis(start_axis, a.ndim(), "flatten");
  int en = normalize_axis(end_axis, a.ndim(), "flatten");
  if (st > en) throw std::invalid_argument("[flatten] start_axis must not be after end_axis.");
  Shape shape(a.shape().begin(), a.shape().begin() + st);
  ShapeElem m = 1;
  for (int i = st; i <= en; ++i) m *= a.shape(i);
  shape.push_back(m);
  shape.insert(shape.end(), a.shape().begin() + en + 1, a.shape().end());
  return reshape(a, shape, s);
}

array squeeze(const array& a, const std::vector<int>& axes, StreamOrDevice s) {
  std::set<int> drop;
  for (int ax : axes) {
    int n = normalize_axis(ax, a.ndim(), "squeeze");
    if (a.shape(n) != 1) throw std::invalid_argument("[squeeze] Cannot squeeze axis " + std::to_string(ax) + " of size " + std::to_string(a.shape(n)) + ".");
    if (!drop.insert(n).second) throw std::invalid_argument("[squeeze] Repeated axis.");
  }
  Shape shape;
  for (int i = 0; i < a.ndim(); ++i) {
    if (!drop.count(i)) shape.push_back(a.shape(i));
  }
  return reshape(a, shape, s);
}

array squeeze(const array& a, StreamOrDevice s) {
  std::vector<int> axes;
  for (int i = 0; i < a.ndim(); ++i) {
    if (a.shape(i) == 1) axes.push_back(i);
  }
  return squeeze(a, axes, s);
}

array expand_dims(const array& a, const std::vector<int>& axes, StreamOrDevice s) {
  int out_nd = a.ndim() + static_cast<int>(axes.size());
  std::set<int> add;
  for (int ax : axes) {
    int n = normalize_axis(ax, out_nd, "expand_dims");
    if (!add.insert(n).second) throw std::invalid_argument("[expand_dims] Repeated axis.");
  }
  Shape shape;
  int j = 0;
  for (int i = 0; i < out_nd; ++i) shape.push_back(add.count(i) ? 1 : a.shape(j++));
  return reshape(a, shape, s);
}

array expand_dims(const array& a, int axis, StreamOrDevice s) { return expand_dims(a, std::vector<int>{axis}, s); }

array broadcast_to(const array& a, const Shape& shape, StreamOrDevice s) {
  if (a.shape() == shape) return a;
  auto out = broadcast_shapes(a.shape(), shape, "broadcast_to");
  if (out != shape) {
    throw std::invalid_argument("[broadcast_to] Cannot broadcast an array of shape " + shape_str(a.shape()) +
                                " to shape " + shape_str(shape) + ".");
  }
  return array(shape, a.dtype(), std::make_shared<Broadcast>(to_stream(s), shape), {a});
}

std::vector<array> broadcast_arrays(const std::vector<array>& inputs, StreamOrDevice s) {
  if (inputs.empty()) return {};
  Shape shape = inputs[0].shape();
  for (size_t i = 1; i < inputs.size(); ++i) shape = broadcast_shapes(shape, inputs[i].shape(), "broadcast_arrays");
  std::vector<array> out;
  for (auto& a : inputs) out.push_back(broadcast_to(a, shape, s));
  return out;
}

array transpose(const array& a, std::vector<int> axes, StreamOrDevice s) {
  if (static_cast<int>(axes.size()) != a.ndim()) {
    throw std::invalid_argument("[transpose] Received " + std::to_string(axes.size()) + " axes for an array with " +
                                std::to_string(a.ndim()) + " dimensions.");
  }
  std::vector<bool> seen(a.ndim(), false);
  Shape shape;
  bool identity = true;
  for (size_t i = 0; i < axes.size(); ++i) {
    axes[i] = normalize_axis(axes[i], a.ndim(), "transpose");
    if (seen[axes[i]]) throw std::invalid_argument("[transpose] Repeated axis in transpose.");
    seen[axes[i]] = true;
    identity &= axes[i] == static_cast<int>(i);
    shape.push_back(a.shape(axes[i]));
  }
  if (identity) return a;
  return array(shape, a.dtype(), std::make_shared<Transpose>(to_stream(s), std::move(axes)), {a});
}

array transpose(const array& a, StreamOrDevice s) {
  std::vector<int> axes(a.ndim());
  std::iota(axes.rbegin(), axes.rend(), 0);
  return transpose(a, axes, s);
}

array swapaxes(const array& a, int axis1, int axis2, StreamOrDevice s) {
  int a1 = normalize_axis(axis1, a.ndim(), "swapaxes");
  int a2 = normalize_axis(axis2, a.ndim(), "swapaxes");
  std::vector<int> axes(a.ndim());
  std::iota(axes.begin(), axes.end(), 0);
  std::swap(axes[a1], axes[a2]);
  return transpose(a, axes, s);
}

array moveaxis(const array& a, int source, int destination, StreamOrDevice s) {
  int src = normalize_axis(source, a.ndim(), "moveaxis");
  int dst = normalize_axis(destination, a.ndim(), "moveaxis");
  std::vector<int> axes(a.ndim());
  std::iota(axes.begin(), axes.end(), 0);
  axes.erase(axes.begin() + src);
  axes.insert(axes.begin() + dst, src);
  return transpose(a, axes, s);
}

array slice(const array& a, Shape start, Shape stop, Shape strides, StreamOrDevice s) {
  int nd = a.ndim();
  if (static_cast<int>(start.size()) != nd || static_cast<int>(stop.size()) != nd ||
      static_cast<int>(strides.size()) != nd) {
    throw std::invalid_argument("[slice] start, stop and strides must have one entry per dimension (" +
                                std::to_string(nd) + ").");
  }
  Shape shape(nd);
  bool identity = true;
  for (int i = 0; i < nd; ++i) {
    int64_t n = a.shape(i), st = strides[i];
    if (st == 0) throw std::invalid_argument("[slice] slice step cannot be zero.");
    int64_t b = start[i], e = stop[i];
    // Python slice clamping.
    if (b < 0) b += n;
    if (e < 0) e += n;
    if (st > 0) {
      b = std::clamp<int64_t>(b, 0, n);
      e = std::clamp<int64_t>(e, 0, n);
      shape[i] = e > b ? static_cast<ShapeElem>((e - b + st - 1) / st) : 0;
    } else {
      b = std::clamp<int64_t>(b, -1, n - 1);
      e = std::clamp<int64_t>(e, -1, n - 1);
      shape[i] = b > e ? static_cast<ShapeElem>((b - e - st - 1) / (-st)) : 0;
    }
    start[i] = static_cast<ShapeElem>(shape[i] > 0 ? b : 0);
    identity &= start[i] == 0 && st == 1 && shape[i] == n;
  }
  if (identity) return a;
  return array(shape, a.dtype(), std::make_shared<Slice>(to_stream(s), std::move(start), std::move(stop), std::move(strides)),
               {a});
}

array slice(const array& a, const Shape& start, const Shape& stop, StreamOrDevice s) {
  return slice(a, start, stop, Shape(a.ndim(), 1), s);
}

array as_strided(const array& a, Shape shape, Strides strides, int64_t offset, StreamOrDevice s) {
  if (shape.size() != strides.size()) throw std::invalid_argument("[as_strided] shape and strides must have the same length.");
  auto out_shape = shape;
  auto in = contiguous(a, s);
  return array(std::move(out_shape), a.dtype(), std::make_shared<AsStrided>(to_stream(s), std::move(shape), std::move(strides), offset),
               {in});
}

}  // namespace tessera
