// Indexing ops: validate, broadcast indices and build gather/scatter/slice-update nodes; NumPy indexing.
#include "tessera/ops/indexing.h"

#include <numeric>
#include <set>

#include "tessera/backend/common/utils.h"
#include "tessera/ops/creation.h"
#include "tessera/ops/shape.h"
#include "tessera/primitives/indexing.h"

namespace tessera {

namespace {

void check_index_dtype(const array& idx, const char* op) {
  if (!is_integral(idx.dtype()) || idx.dtype() == bool_) {
    throw std::invalid_argument(std::string("[") + op + "] indices must be integers, got " + dtype_name(idx.dtype()) + ".");
  }
}

std::vector<int> normalize_axes(const std::vector<int>& axes, int ndim, const char* op) {
  std::vector<int> out;
  std::set<int> seen;
  for (int ax : axes) {
    int a = normalize_axis(ax, ndim, op);
    if (!seen.insert(a).second) throw std::invalid_argument(std::string("[") + op + "] Repeated axis " + std::to_string(ax) + ".");
    out.push_back(a);
  }
  return out;
}

// Broadcasts index arrays together; returns them and their common shape.
std::pair<std::vector<array>, Shape> broadcast_indices(const std::vector<array>& indices, const char* op, Stream st) {
  Shape shape;
  for (auto& i : indices) {
    check_index_dtype(i, op);
    shape = broadcast_shapes(shape, i.shape(), op);
  }
  std::vector<array> out;
  for (auto& i : indices) out.push_back(broadcast_to(i, shape, st));
  return {out, shape};
}

array scatter_impl(const array& a, const std::vector<array>& indices, const array& updates, const std::vector<int>& axes,
                   ScatterReduce reduce, const char* op, StreamOrDevice s) {
  if (indices.size() != axes.size()) {
    throw std::invalid_argument(std::string("[") + op + "] Number of index arrays (" + std::to_string(indices.size()) +
                                ") does not match number of axes (" + std::to_string(axes.size()) + ").");
  }
  if ((reduce == ScatterReduce::max || reduce == ScatterReduce::min) && is_complex(a.dtype())) {
    throw std::invalid_argument(std::string("[") + op + "] complex arrays are not supported.");
  }
  auto st = to_stream(s);
  auto ax = normalize_axes(axes, a.ndim(), op);
  auto [idx, ishape] = broadcast_indices(indices, op, st);
  int ind = static_cast<int>(ishape.size());
  if (updates.ndim() != ind + a.ndim()) {
    throw std::invalid_argument(std::string("[") + op + "] Updates with " + std::to_string(updates.ndim()) +
                                " dimensions do not match the sum of the array (" + std::to_string(a.ndim()) +
                                ") and indices (" + std::to_string(ind) + ") dimensions.");
  }
  Shape ushape = ishape;
  for (int d = 0; d < a.ndim(); ++d) {
    int u = updates.shape(ind + d);
    if (u > a.shape(d)) {
      throw std::invalid_argument(std::string("[") + op + "] Update slice of shape " + shape_str(updates.shape()) +
                                  " is larger than the array of shape " + shape_str(a.shape()) + ".");
    }
    ushape.push_back(u);
  }
  auto bshape = broadcast_shapes(updates.shape(), ushape, op);
  if (bshape != ushape) {
    throw std::invalid_argument(std::string("[") + op + "] Updates of shape " + shape_str(updates.shape()) +
                                " do not match the indices of shape " + shape_str(ishape) + ".");
  }
  std::vector<array> inputs{a};
  inputs.insert(inputs.end(), idx.begin(), idx.end());
  inputs.push_back(broadcast_to(astype(updates, a.dtype(), st), ushape, st));
  return array(a.shape(), a.dtype(), std::make_shared<Scatter>(st, std::move(ax), reduce), std::move(inputs));
}

array scatter_axis_impl(const array& a, const array& indices, const array& values, int axis, ScatterReduce reduce,
                        const char* op, StreamOrDevice s) {
  check_index_dtype(indices, op);
  if (indices.ndim() != a.ndim()) {
    throw std::invalid_argument(std::string("[") + op + "] Indices of dimension " + std::to_string(indices.ndim()) +
                                " do not match an array of dimension " + std::to_string(a.ndim()) + ".");
  }
  int ax = normalize_axis(axis, a.ndim(), op);
  auto st = to_stream(s);
  Shape like = a.shape();
  like[ax] = indices.shape(ax);
  auto ishape = broadcast_shapes(indices.shape(), like, op);
  if (ishape != like) {
    throw std::invalid_argument(std::string("[") + op + "] Indices of shape " + shape_str(indices.shape()) +
                                " cannot be broadcast to the array of shape " + shape_str(a.shape()) + ".");
  }
  auto vshape = broadcast_shapes(values.shape(), ishape, op);
  if (vshape != ishape) {
    throw std::invalid_argument(std::string("[") + op + "] Values of shape " + shape_str(values.shape()) +
                                " cannot be broadcast to the indices' shape " + shape_str(ishape) + ".");
  }
  auto idx = broadcast_to(indices, ishape, st);
  auto vals = broadcast_to(astype(values, a.dtype(), st), ishape, st);
  return array(a.shape(), a.dtype(), std::make_shared<ScatterAxis>(st, ax, reduce), {a, idx, vals});
}

}  // namespace

array gather(const array& a, const std::vector<array>& indices, const std::vector<int>& axes, const Shape& slice_sizes,
             StreamOrDevice s) {
  if (indices.size() != axes.size()) {
    throw std::invalid_argument("[gather] Number of index arrays (" + std::to_string(indices.size()) +
                                ") does not match number of axes (" + std::to_string(axes.size()) + ").");
  }
  if (static_cast<int>(slice_sizes.size()) != a.ndim()) {
    throw std::invalid_argument("[gather] Got slice_sizes " + shape_str(slice_sizes) + " for an array with " +
                                std::to_string(a.ndim()) + " dimensions.");
  }
  for (int d = 0; d < a.ndim(); ++d) {
    if (slice_sizes[d] < 0 || slice_sizes[d] > a.shape(d)) {
      throw std::invalid_argument("[gather] Slice sizes " + shape_str(slice_sizes) + " must be in [0, shape] for an array of shape " +
                                  shape_str(a.shape()) + ".");
    }
  }
  auto st = to_stream(s);
  auto ax = normalize_axes(axes, a.ndim(), "gather");
  auto [idx, shape] = broadcast_indices(indices, "gather", st);
  shape.insert(shape.end(), slice_sizes.begin(), slice_sizes.end());
  shape_size(shape);
  std::vector<array> inputs{a};
  inputs.insert(inputs.end(), idx.begin(), idx.end());
  return array(std::move(shape), a.dtype(), std::make_shared<Gather>(st, std::move(ax), slice_sizes), std::move(inputs));
}

array gather(const array& a, const array& indices, int axis, const Shape& slice_sizes, StreamOrDevice s) {
  return gather(a, std::vector<array>{indices}, std::vector<int>{axis}, slice_sizes, s);
}

array take(const array& a, const array& indices, int axis, StreamOrDevice s) {
  check_index_dtype(indices, "take");
  if (a.ndim() == 0) throw std::invalid_argument("[take] Cannot take from a zero-dimensional array with an axis.");
  int ax = normalize_axis(axis, a.ndim(), "take");
  auto st = to_stream(s);
  int k = indices.ndim(), nd = a.ndim();
  Shape out_shape(a.shape().begin(), a.shape().begin() + ax);
  out_shape.insert(out_shape.end(), indices.shape().begin(), indices.shape().end());
  out_shape.insert(out_shape.end(), a.shape().begin() + ax + 1, a.shape().end());
  if (a.shape(ax) == 0) {
    if (indices.size() > 0) throw std::out_of_range("[take] Cannot take from an empty axis " + std::to_string(axis) + ".");
    return zeros(out_shape, a.dtype(), st);
  }
  Shape ss = a.shape();
  ss[ax] = 1;
  auto g = gather(a, {indices}, {ax}, ss, st);  // I + a.shape (1 at ax)
  Shape sq(indices.shape());
  for (int d = 0; d < nd; ++d) {
    if (d != ax) sq.push_back(a.shape(d));
  }
  g = reshape(g, sq, st);  // I + a.shape without ax
  if (ax == 0) return g;
  std::vector<int> perm;
  for (int d = 0; d < ax; ++d) perm.push_back(k + d);
  for (int d = 0; d < k; ++d) perm.push_back(d);
  for (int d = ax; d < nd - 1; ++d) perm.push_back(k + d);
  return transpose(g, perm, st);
}

array take(const array& a, int index, int axis, StreamOrDevice s) {
  if (a.ndim() == 0) throw std::invalid_argument("[take] Cannot take from a zero-dimensional array with an axis.");
  int ax = normalize_axis(axis, a.ndim(), "take");
  int n = a.shape(ax);
  int i = index < 0 ? index + n : index;
  if (i < 0 || i >= n) {
    throw std::out_of_range("[take] index " + std::to_string(index) + " is out of bounds for axis " + std::to_string(axis) +
                            " with size " + std::to_string(n) + ".");
  }
  Shape start(a.ndim(), 0), stop = a.shape();
  start[ax] = i;
  stop[ax] = i + 1;
  Shape out = a.shape();
  out.erase(out.begin() + ax);
  return reshape(slice(a, start, stop, s), out, s);
}

array take(const array& a, const array& indices, StreamOrDevice s) { return take(flatten(a, 0, -1, s), indices, 0, s); }
array take(const array& a, int index, StreamOrDevice s) { return take(flatten(a, 0, -1, s), index, 0, s); }

array take_along_axis(const array& a, const array& indices, int axis, StreamOrDevice s) {
  check_index_dtype(indices, "take_along_axis");
  if (indices.ndim() != a.ndim()) {
    throw std::invalid_argument("[take_along_axis] Indices of dimension " + std::to_string(indices.ndim()) +
                                " do not match an array of dimension " + std::to_string(a.ndim()) + ".");
  }
  int ax = normalize_axis(axis, a.ndim(), "take_along_axis");
  auto st = to_stream(s);
  Shape sa = a.shape(), si = indices.shape();
  sa[ax] = 1;
  si[ax] = 1;
  auto b = broadcast_shapes(sa, si, "take_along_axis");
  Shape a_shape = b, i_shape = b;
  a_shape[ax] = a.shape(ax);
  i_shape[ax] = indices.shape(ax);
  if (a.shape(ax) == 0 && indices.shape(ax) > 0 && shape_size(i_shape) > 0) {
    throw std::out_of_range("[take_along_axis] Cannot take from an empty axis " + std::to_string(axis) + ".");
  }
  auto x = broadcast_to(a, a_shape, st);
  auto idx = broadcast_to(indices, i_shape, st);
  return array(i_shape, a.dtype(), std::make_shared<GatherAxis>(st, ax), {x, idx});
}

array put_along_axis(const array& a, const array& indices, const array& values, int axis, StreamOrDevice s) {
  return scatter_axis_impl(a, indices, values, axis, ScatterReduce::none, "put_along_axis", s);
}
array scatter_add_axis(const array& a, const array& indices, const array& values, int axis, StreamOrDevice s) {
  return scatter_axis_impl(a, indices, values, axis, ScatterReduce::sum, "scatter_add_axis", s);
}

#define TESSERA_SCATTER(NAME, REDUCE)                                                                              \
  array NAME(const array& a, const std::vector<array>& indices, const array& updates, const std::vector<int>& axes, \
             StreamOrDevice s) {                                                                                   \
    return scatter_impl(a, indices, updates, axes, ScatterReduce::REDUCE, #NAME, s);                               \
  }                                                                                                                \
  array NAME(const array& a, const array& indices, const array& updates, int axis, StreamOrDevice s) {             \
    return scatter_impl(a, {indices}, updates, {axis}, ScatterReduce::REDUCE, #NAME, s);                           \
  }
TESSERA_SCATTER(scatter, none)
TESSERA_SCATTER(scatter_add, sum)
TESSERA_SCATTER(scatter_prod, prod)
TESSERA_SCATTER(scatter_max, max)
TESSERA_SCATTER(scatter_min, min)
#undef TESSERA_SCATTER

array slice_update(const array& src, const array& update, Shape start, Shape stop, Shape strides, StreamOrDevice s) {
  int nd = src.ndim();
  if (static_cast<int>(start.size()) != nd || static_cast<int>(stop.size()) != nd ||
      static_cast<int>(strides.size()) != nd) {
    throw std::invalid_argument("[slice_update] start, stop and strides must have one entry per dimension (" +
                                std::to_string(nd) + ").");
  }
  // Python slice clamping, as slice() does.
  Shape shape(nd);
  for (int i = 0; i < nd; ++i) {
    int64_t n = src.shape(i), st = strides[i];
    if (st == 0) throw std::invalid_argument("[slice_update] slice step cannot be zero.");
    int64_t b = start[i], e = stop[i];
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
  }
  auto bshape = broadcast_shapes(update.shape(), shape, "slice_update");
  if (bshape != shape) {
    throw std::invalid_argument("[slice_update] Update of shape " + shape_str(update.shape()) +
                                " cannot be broadcast to the slice of shape " + shape_str(shape) + ".");
  }
  if (shape_size(shape) == 0) return src;
  auto st = to_stream(s);
  auto upd = broadcast_to(astype(update, src.dtype(), st), shape, st);
  return array(src.shape(), src.dtype(), std::make_shared<SliceUpdate>(st, std::move(start), std::move(strides)), {src, upd});
}

array slice_update(const array& src, const array& update, const Shape& start, const Shape& stop, StreamOrDevice s) {
  return slice_update(src, update, start, stop, Shape(src.ndim(), 1), s);
}

namespace {
array check_start(const array& start, size_t naxes, const char* op) {
  check_index_dtype(start, op);
  if (start.ndim() > 1 || start.size() != naxes) {
    throw std::invalid_argument(std::string("[") + op + "] start must be 1-D with one entry per axis (" +
                                std::to_string(naxes) + "), got shape " + shape_str(start.shape()) + ".");
  }
  return start;
}
}  // namespace

array dynamic_slice(const array& a, const array& start, std::vector<int> axes, Shape slice_size, StreamOrDevice s) {
  check_start(start, axes.size(), "dynamic_slice");
  auto ax = normalize_axes(axes, a.ndim(), "dynamic_slice");
  if (static_cast<int>(slice_size.size()) != a.ndim()) {
    throw std::invalid_argument("[dynamic_slice] slice_size must have one entry per dimension (" + std::to_string(a.ndim()) + ").");
  }
  for (int d = 0; d < a.ndim(); ++d) {
    if (slice_size[d] < 0 || slice_size[d] > a.shape(d)) {
      throw std::invalid_argument("[dynamic_slice] slice_size " + shape_str(slice_size) + " does not fit in shape " +
                                  shape_str(a.shape()) + ".");
    }
  }
  auto st = to_stream(s);
  return array(std::move(slice_size), a.dtype(), std::make_shared<DynamicSlice>(st, std::move(ax)), {a, start});
}

array dynamic_slice_update(const array& src, const array& update, const array& start, std::vector<int> axes,
                           StreamOrDevice s) {
  check_start(start, axes.size(), "dynamic_slice_update");
  auto ax = normalize_axes(axes, src.ndim(), "dynamic_slice_update");
  if (update.ndim() != src.ndim()) {
    throw std::invalid_argument("[dynamic_slice_update] update must have the dimensions of src (" + std::to_string(src.ndim()) + ").");
  }
  for (int d = 0; d < src.ndim(); ++d) {
    if (update.shape(d) > src.shape(d)) {
      throw std::invalid_argument("[dynamic_slice_update] update of shape " + shape_str(update.shape()) +
                                  " does not fit in shape " + shape_str(src.shape()) + ".");
    }
  }
  auto st = to_stream(s);
  return array(src.shape(), src.dtype(), std::make_shared<DynamicSliceUpdate>(st, std::move(ax)),
               {src, astype(update, src.dtype(), st), start});
}

// ---------------------------------------------------------------------------------------------
// NumPy indexing.

namespace {

// An index with ellipsis expanded and masks turned into integer arrays; each item consumes one
// dim of `a` except newaxis.
struct Item {
  enum Kind { integer, slice, newaxis, advanced } kind;
  int64_t i{0};
  int64_t start{0}, stop{0}, step{1};  // normalized (as slice()), for slices
  array arr{0};
};

bool is_bool_array(const Index& x) { return std::holds_alternative<array>(x) && std::get<array>(x).dtype() == bool_; }

// Positions of the true elements of a mask, one int32 array per mask dim.
std::vector<array> nonzero(array mask) {
  auto v = mask.to_vector<bool>();
  int nd = mask.ndim();
  std::vector<std::vector<int32_t>> pos(nd);
  std::vector<int32_t> idx(nd, 0);
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i]) {
      for (int d = 0; d < nd; ++d) pos[d].push_back(idx[d]);
    }
    for (int d = nd - 1; d >= 0; --d) {
      if (++idx[d] < mask.shape(d)) break;
      idx[d] = 0;
    }
  }
  std::vector<array> out;
  for (int d = 0; d < nd; ++d) {
    auto n = static_cast<ShapeElem>(pos[d].size());
    out.push_back(array(pos[d], {n}, int32));
  }
  return out;
}

// Expands ellipsis, fills trailing dims, normalizes ints and slices, turns masks into arrays.
std::vector<Item> expand_index(const array& a, const std::vector<Index>& idx) {
  int consumed = 0, ellipses = 0;
  for (auto& x : idx) {
    if (std::holds_alternative<Ellipsis>(x)) {
      ++ellipses;
    } else if (is_bool_array(x)) {
      consumed += std::get<array>(x).ndim();
    } else if (!std::holds_alternative<NewAxis>(x)) {
      ++consumed;
    }
  }
  if (ellipses > 1) throw std::invalid_argument("[index] An index can only have a single ellipsis.");
  if (consumed > a.ndim()) {
    throw std::out_of_range("[index] Too many indices for an array with " + std::to_string(a.ndim()) + " dimensions (got " +
                            std::to_string(consumed) + ").");
  }
  std::vector<Item> items;
  int dim = 0;
  auto full_slice = [&](int d) {
    Item it{Item::slice};
    it.start = 0;
    it.stop = a.shape(d);
    it.step = 1;
    return it;
  };
  for (auto& x : idx) {
    if (std::holds_alternative<Ellipsis>(x)) {
      for (int k = 0; k < a.ndim() - consumed; ++k, ++dim) items.push_back(full_slice(dim));
    } else if (std::holds_alternative<NewAxis>(x)) {
      items.push_back(Item{Item::newaxis});
    } else if (std::holds_alternative<int64_t>(x)) {
      int64_t n = a.shape(dim), v = std::get<int64_t>(x);
      int64_t w = v < 0 ? v + n : v;
      if (w < 0 || w >= n) {
        throw std::out_of_range("[index] index " + std::to_string(v) + " is out of bounds for axis " + std::to_string(dim) +
                                " with size " + std::to_string(n) + ".");
      }
      Item it{Item::integer};
      it.i = w;
      items.push_back(it);
      ++dim;
    } else if (std::holds_alternative<SliceIndex>(x)) {
      auto& sl = std::get<SliceIndex>(x);
      int64_t n = a.shape(dim), st = sl.step.value_or(1);
      if (st == 0) throw std::invalid_argument("[index] slice step cannot be zero.");
      Item it{Item::slice};
      it.step = st;
      // Python's slice.indices(n).
      auto norm = [&](std::optional<int64_t> v, int64_t dflt) {
        if (!v) return dflt;
        int64_t b = *v < 0 ? *v + n : *v;
        return st > 0 ? std::clamp<int64_t>(b, 0, n) : std::clamp<int64_t>(b, -1, n - 1);
      };
      it.start = norm(sl.start, st > 0 ? 0 : n - 1);
      it.stop = norm(sl.stop, st > 0 ? n : -1);
      items.push_back(it);
      ++dim;
    } else {
      const array& arr = std::get<array>(x);
      if (arr.dtype() == bool_) {
        if (arr.ndim() == 0) {
          // a[True] / a[False]: a new axis of length 1 / 0, indexed by [0] / [].
          items.push_back(Item{Item::newaxis});
          Item it{Item::advanced};
          it.arr = array(arr).item<bool>() ? array({0}, {1}, int32) : array(std::vector<int32_t>{}, {0}, int32);
          it.i = -1;  // applies to the new axis just inserted
          items.push_back(it);
          continue;
        }
        for (int d = 0; d < arr.ndim(); ++d) {
          if (arr.shape(d) != a.shape(dim + d)) {
            throw std::invalid_argument("[index] Boolean index of shape " + shape_str(arr.shape()) +
                                        " does not match the indexed dimensions of shape " + shape_str(a.shape()) + ".");
          }
        }
        for (auto& p : nonzero(arr)) {
          Item it{Item::advanced};
          it.arr = p;
          items.push_back(it);
          ++dim;
        }
      } else {
        check_index_dtype(arr, "index");
        Item it{Item::advanced};
        it.arr = arr;
        items.push_back(it);
        ++dim;
      }
    }
  }
  for (; dim < a.ndim(); ++dim) items.push_back(full_slice(dim));
  return items;
}

int64_t slice_len(const Item& it) {
  if (it.step > 0) return it.stop > it.start ? (it.stop - it.start + it.step - 1) / it.step : 0;
  return it.start > it.stop ? (it.start - it.stop - it.step - 1) / (-it.step) : 0;
}

}  // namespace

array index(const array& a, const std::vector<Index>& idx, StreamOrDevice s) {
  auto st = to_stream(s);
  auto items = expand_index(a, idx);
  bool any_adv = false;
  for (auto& it : items) any_adv |= it.kind == Item::advanced;

  // Pass 1: insert the new axes (a view), so every remaining item consumes exactly one dim.
  Shape shape;
  std::vector<Item> per_dim;
  {
    int d = 0;
    for (auto& it : items) {
      if (it.kind == Item::newaxis) {
        shape.push_back(1);
        Item full{Item::slice};
        full.stop = 1;
        per_dim.push_back(full);
        per_dim.back().i = -2;  // marks a new axis
      } else if (it.kind == Item::advanced && it.i == -1) {
        per_dim.back() = it;  // a[True]/a[False] index the axis just inserted
      } else {
        shape.push_back(a.shape(d++));
        per_dim.push_back(it);
      }
    }
  }
  array v = reshape(a, shape, st);

  // Pass 2: basic slicing (ints become length-1 slices; advanced dims stay whole).
  int nd = v.ndim();
  Shape start(nd), stop(nd), steps(nd);
  for (int d = 0; d < nd; ++d) {
    auto& it = per_dim[d];
    if (it.kind == Item::slice) {
      start[d] = static_cast<ShapeElem>(it.start);
      stop[d] = static_cast<ShapeElem>(it.stop);
      steps[d] = static_cast<ShapeElem>(it.step);
      if (it.step < 0 && it.stop < 0) stop[d] = -v.shape(d) - 1;  // "until the beginning"
    } else if (it.kind == Item::integer && !any_adv) {
      start[d] = static_cast<ShapeElem>(it.i);
      stop[d] = static_cast<ShapeElem>(it.i + 1);
      steps[d] = 1;
    } else {
      start[d] = 0;
      stop[d] = v.shape(d);
      steps[d] = 1;
    }
  }
  v = slice(v, start, stop, steps, st);

  if (!any_adv) {
    Shape out;
    for (int d = 0; d < nd; ++d) {
      if (per_dim[d].kind != Item::integer) out.push_back(v.shape(d));
    }
    return reshape(v, out, st);
  }

  // Advanced: ints are 0-d index arrays; all index arrays broadcast together.
  std::vector<int> adv, rest;
  std::vector<array> arrays;
  for (int d = 0; d < nd; ++d) {
    auto& it = per_dim[d];
    if (it.kind == Item::advanced) {
      adv.push_back(d);
      arrays.push_back(it.arr);
    } else if (it.kind == Item::integer) {
      adv.push_back(d);
      arrays.push_back(array(static_cast<int32_t>(it.i)));
    } else {
      rest.push_back(d);
    }
  }
  bool consecutive = adv.back() - adv.front() + 1 == static_cast<int>(adv.size());
  std::vector<int> perm = adv;
  perm.insert(perm.end(), rest.begin(), rest.end());
  auto vt = transpose(v, perm, st);
  int k = static_cast<int>(adv.size());
  Shape ss(k, 1);
  Shape rest_shape;
  for (int d : rest) {
    ss.push_back(v.shape(d));
    rest_shape.push_back(v.shape(d));
  }
  std::vector<int> axes(k);
  std::iota(axes.begin(), axes.end(), 0);
  Shape ishape;
  for (auto& x : arrays) ishape = broadcast_shapes(ishape, x.shape(), "index");
  bool empty_dim = false;
  for (int d = 0; d < k; ++d) empty_dim |= vt.shape(d) == 0;
  // Indexing an empty dim: only an empty index is valid (the result is empty then).
  if (empty_dim && shape_size(ishape) > 0) throw std::out_of_range("[index] Cannot index an empty dimension.");
  int bn = static_cast<int>(ishape.size());
  Shape res = ishape;
  res.insert(res.end(), rest_shape.begin(), rest_shape.end());
  array g = empty_dim ? zeros(res, a.dtype(), st) : reshape(gather(vt, arrays, axes, ss, st), res, st);
  if (!consecutive || adv.front() == 0) return g;
  // Advanced dims go where the (consecutive) advanced indices were.
  int p0 = adv.front();
  std::vector<int> order;
  for (int d = 0; d < p0; ++d) order.push_back(bn + d);
  for (int d = 0; d < bn; ++d) order.push_back(d);
  for (int d = p0; d < static_cast<int>(rest.size()); ++d) order.push_back(bn + d);
  return transpose(g, order, st);
}

array index_update(const array& a, const std::vector<Index>& idx, const array& value, StreamOrDevice s) {
  auto st = to_stream(s);
  auto items = expand_index(a, idx);
  bool any_adv = false;
  for (auto& it : items) any_adv |= it.kind == Item::advanced;

  if (!any_adv) {
    // Basic: a slice_update of the indexed region (ints are length-1 slices; new axes drop out).
    Shape start, stop, steps, region, res;
    for (auto& it : items) {
      if (it.kind == Item::newaxis) {
        res.push_back(1);
        continue;
      }
      int64_t n = it.kind == Item::integer ? 1 : slice_len(it);
      if (it.kind == Item::integer) {
        start.push_back(static_cast<ShapeElem>(it.i));
        stop.push_back(static_cast<ShapeElem>(it.i + 1));
        steps.push_back(1);
      } else {
        start.push_back(static_cast<ShapeElem>(n > 0 ? it.start : 0));
        stop.push_back(static_cast<ShapeElem>(n > 0 ? it.start + (n - 1) * it.step + (it.step > 0 ? 1 : -1) : 0));
        if (n > 0 && it.step < 0 && stop.back() < 0) stop.back() = -a.shape(static_cast<int>(start.size()) - 1) - 1;
        steps.push_back(static_cast<ShapeElem>(it.step));
        res.push_back(static_cast<ShapeElem>(n));
      }
      region.push_back(static_cast<ShapeElem>(n));
    }
    auto b = broadcast_shapes(value.shape(), res, "index_update");
    if (b != res) {
      throw std::invalid_argument("[index_update] Cannot broadcast a value of shape " + shape_str(value.shape()) +
                                  " to the indexed shape " + shape_str(res) + ".");
    }
    auto upd = reshape(broadcast_to(value, res, st), region, st);
    return slice_update(a, upd, start, stop, steps, st);
  }

  // Advanced: scatter with one index array per dim of a, each shaped to broadcast into the result
  // shape of a[idx]; slices become aranges in their own result dim.
  for (auto& it : items) {
    if (it.kind == Item::advanced && it.i == -1) {
      throw std::invalid_argument("[index_update] Scalar boolean indices are not supported.");
    }
  }
  std::vector<int> adv_pos;  // positions in `items`
  Shape ishape;
  for (size_t j = 0; j < items.size(); ++j) {
    auto& it = items[j];
    if (it.kind == Item::advanced || it.kind == Item::integer) {
      adv_pos.push_back(static_cast<int>(j));
      if (it.kind == Item::advanced) ishape = broadcast_shapes(ishape, it.arr.shape(), "index_update");
    }
  }
  bool consecutive = true;
  for (size_t j = 1; j < adv_pos.size(); ++j) consecutive &= adv_pos[j] == adv_pos[j - 1] + 1;
  int bn = static_cast<int>(ishape.size());
  // Result dims: non-advanced items in order, with the advanced block inserted.
  std::vector<int> item_res_dim(items.size(), -1);
  int r = consecutive ? 0 : bn;
  bool placed = false;
  int adv_at = 0;
  for (size_t j = 0; j < items.size(); ++j) {
    auto& it = items[j];
    bool adv = it.kind == Item::advanced || it.kind == Item::integer;
    if (adv) {
      if (consecutive && !placed) {
        adv_at = r;
        r += bn;
        placed = true;
      }
      continue;
    }
    item_res_dim[j] = r++;
  }
  int res_nd = r;
  Shape res(res_nd, 1);
  for (int d = 0; d < bn; ++d) res[adv_at + d] = ishape[d];
  std::vector<array> indices;
  std::vector<int> axes;
  int dim = 0;
  for (size_t j = 0; j < items.size(); ++j) {
    auto& it = items[j];
    if (it.kind == Item::newaxis) continue;
    Shape ish(res_nd, 1);
    array ix(0);
    if (it.kind == Item::slice) {
      int64_t n = slice_len(it);
      ix = n > 0 ? arange(static_cast<double>(it.start), static_cast<double>(it.start + n * it.step),
                          static_cast<double>(it.step), int32, st)
                 : array(std::vector<int32_t>{}, {0}, int32);
      ish[item_res_dim[j]] = static_cast<ShapeElem>(n);
      res[item_res_dim[j]] = static_cast<ShapeElem>(n);
    } else {
      ix = it.kind == Item::integer ? array(static_cast<int32_t>(it.i)) : it.arr;
      Shape bs = ix.shape();
      for (int d = 0; d < bn; ++d) ish[adv_at + d] = 1;
      for (int d = 0; d < static_cast<int>(bs.size()); ++d) ish[adv_at + bn - bs.size() + d] = bs[d];
    }
    indices.push_back(reshape(ix, ish, st));
    axes.push_back(dim++);
  }
  // The leading dims of value beyond the result's rank must be 1 (NumPy allows that).
  Shape vshape = value.shape();
  while (static_cast<int>(vshape.size()) > res_nd && vshape[0] == 1) vshape.erase(vshape.begin());
  auto b = broadcast_shapes(vshape, res, "index_update");
  if (b != res) {
    throw std::invalid_argument("[index_update] Cannot broadcast a value of shape " + shape_str(value.shape()) +
                                " to the indexed shape " + shape_str(res) + ".");
  }
  auto upd = broadcast_to(reshape(value, vshape, st), res, st);
  Shape ushape = res;
  ushape.insert(ushape.end(), a.ndim(), 1);
  upd = reshape(upd, ushape, st);
  if (shape_size(res) == 0) return a;
  return scatter(a, indices, upd, axes, st);
}

}  // namespace tessera
