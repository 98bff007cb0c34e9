// Manipulation ops: validate arguments and compose views, copies and the manipulation primitives.
#include "tessera/ops/manipulation.h"

#include <numeric>
#include <set>

#include "tessera/backend/common/utils.h"
#include "tessera/ops/creation.h"
#include "tessera/ops/indexing.h"
#include "tessera/ops/shape.h"
#include "tessera/primitives/manipulation.h"

namespace tessera {

array concatenate(const std::vector<array>& arrays, int axis, StreamOrDevice s) {
  if (arrays.empty()) throw std::invalid_argument("[concatenate] No arrays provided for concatenation.");
  const auto& first = arrays[0];
  if (first.ndim() == 0) throw std::invalid_argument("[concatenate] Zero-dimensional arrays cannot be concatenated.");
  int ax = normalize_axis(axis, first.ndim(), "concatenate");
  Shape shape = first.shape();
  Dtype dt = first.dtype();
  for (size_t i = 1; i < arrays.size(); ++i) {
    const auto& b = arrays[i];
    bool ok = b.ndim() == first.ndim();
    for (int d = 0; ok && d < b.ndim(); ++d) ok = d == ax || b.shape(d) == first.shape(d);
    if (!ok) {
      throw std::invalid_argument("[concatenate] All the input array dimensions must match exactly except for the "
                                  "concatenation axis. Got shapes " + shape_str(first.shape()) + " and " +
                                  shape_str(b.shape()) + ".");
    }
    shape[ax] += b.shape(ax);
    dt = promote_types(dt, b.dtype());
  }
  shape_size(shape);
  if (arrays.size() == 1) return astype(first, dt, s);
  auto st = to_stream(s);
  std::vector<array> inputs;
  for (auto& a : arrays) inputs.push_back(astype(a, dt, st));
  return array(std::move(shape), dt, std::make_shared<Concatenate>(st, ax), std::move(inputs));
}

array concatenate(const std::vector<array>& arrays, StreamOrDevice s) {
  std::vector<array> flat;
  for (auto& a : arrays) flat.push_back(flatten(a, 0, -1, s));
  return concatenate(flat, 0, s);
}

array stack(const std::vector<array>& arrays, int axis, StreamOrDevice s) {
  if (arrays.empty()) throw std::invalid_argument("[stack] No arrays provided for stacking.");
  for (auto& a : arrays) {
    if (a.shape() != arrays[0].shape()) {
      throw std::invalid_argument("[stack] All arrays must have the same shape, got " + shape_str(arrays[0].shape()) +
                                  " and " + shape_str(a.shape()) + ".");
    }
  }
  int ax = normalize_axis(axis, arrays[0].ndim() + 1, "stack");
  std::vector<array> expanded;
  for (auto& a : arrays) expanded.push_back(expand_dims(a, ax, s));
  return concatenate(expanded, ax, s);
}

array stack(const std::vector<array>& arrays, StreamOrDevice s) { return stack(arrays, 0, s); }

std::vector<array> split(const array& a, const Shape& indices, int axis, StreamOrDevice s) {
  if (a.ndim() == 0) throw std::invalid_argument("[split] Cannot split a zero-dimensional array.");
  int ax = normalize_axis(axis, a.ndim(), "split");
  int n = a.shape(ax);
  std::vector<array> out;
  Shape start(a.ndim(), 0), stop = a.shape();
  // NumPy: indices are clamped like slice bounds (negative count from the end); sections may be empty.
  int prev = 0;
  auto clampi = [&](int64_t i) { return static_cast<int>(std::clamp<int64_t>(i < 0 ? i + n : i, 0, n)); };
  for (size_t k = 0; k <= indices.size(); ++k) {
    int b = prev;
    int e = k < indices.size() ? clampi(indices[k]) : n;
    e = std::max(e, b);
    start[ax] = b;
    stop[ax] = e;
    out.push_back(slice(a, start, stop, s));
    if (k < indices.size()) prev = std::max(prev, clampi(indices[k]));
  }
  return out;
}

std::vector<array> split(const array& a, const Shape& indices, StreamOrDevice s) { return split(a, indices, 0, s); }

std::vector<array> split(const array& a, int num_splits, int axis, StreamOrDevice s) {
  if (a.ndim() == 0) throw std::invalid_argument("[split] Cannot split a zero-dimensional array.");
  int ax = normalize_axis(axis, a.ndim(), "split");
  if (num_splits <= 0) throw std::invalid_argument("[split] num_splits must be positive, got " + std::to_string(num_splits) + ".");
  int n = a.shape(ax);
  if (n % num_splits != 0) {
    throw std::invalid_argument("[split] Array split does not result in sub arrays with equal size: axis of size " +
                                std::to_string(n) + " into " + std::to_string(num_splits) + " sections.");
  }
  Shape idx;
  for (int i = 1; i < num_splits; ++i) idx.push_back(i * (n / num_splits));
  return split(a, idx, ax, s);
}

std::vector<array> split(const array& a, int num_splits, StreamOrDevice s) { return split(a, num_splits, 0, s); }

array tile(const array& a, std::vector<int> reps, StreamOrDevice s) {
  for (int r : reps) {
    if (r < 0) throw std::invalid_argument("[tile] reps must be non-negative, got " + std::to_string(r) + ".");
  }
  int nd = std::max<int>(a.ndim(), static_cast<int>(reps.size()));
  reps.insert(reps.begin(), nd - reps.size(), 1);
  Shape ashape = a.shape();
  ashape.insert(ashape.begin(), nd - ashape.size(), 1);
  // (d0, d1, ...) -> (1, d0, 1, d1, ...) -> broadcast (r0, d0, r1, d1, ...) -> (r0*d0, r1*d1, ...).
  Shape expanded, bshape, out;
  for (int i = 0; i < nd; ++i) {
    expanded.insert(expanded.end(), {1, ashape[i]});
    bshape.insert(bshape.end(), {reps[i], ashape[i]});
    out.push_back(reps[i] * ashape[i]);
  }
  shape_size(out);
  auto x = reshape(a, expanded, s);
  x = broadcast_to(x, bshape, s);
  return reshape(x, out, s);
}

array repeat(const array& a, int repeats, int axis, StreamOrDevice s) {
  if (repeats < 0) throw std::invalid_argument("[repeat] repeats must be non-negative, got " + std::to_string(repeats) + ".");
  if (a.ndim() == 0) return repeat(reshape(a, {1}, s), repeats, 0, s);
  int ax = normalize_axis(axis, a.ndim(), "repeat");
  Shape bshape = a.shape();
  bshape.insert(bshape.begin() + ax + 1, repeats);
  Shape out = a.shape();
  out[ax] *= repeats;
  shape_size(out);
  auto x = expand_dims(a, ax + 1, s);
  x = broadcast_to(x, bshape, s);
  return reshape(x, out, s);
}

array repeat(const array& a, int repeats, StreamOrDevice s) { return repeat(flatten(a, 0, -1, s), repeats, 0, s); }

array pad(const array& a, const std::vector<int>& axes, const Shape& low_pad, const Shape& high_pad,
          const array& pad_value, const std::string& mode, StreamOrDevice s) {
  if (axes.size() != low_pad.size() || axes.size() != high_pad.size()) {
    throw std::invalid_argument("[pad] Invalid number of padding sizes passed for the given axes.");
  }
  if (mode != "constant" && mode != "edge") {
    throw std::invalid_argument("[pad] Invalid padding mode '" + mode + "', expected 'constant' or 'edge'.");
  }
  if (pad_value.size() != 1) throw std::invalid_argument("[pad] pad_value must be a scalar, got shape " + shape_str(pad_value.shape()) + ".");
  Shape low(a.ndim(), 0), high(a.ndim(), 0);
  std::set<int> seen;
  for (size_t i = 0; i < axes.size(); ++i) {
    int ax = normalize_axis(axes[i], a.ndim(), "pad");
    if (!seen.insert(ax).second) throw std::invalid_argument("[pad] Repeated axis.");
    if (low_pad[i] < 0 || high_pad[i] < 0) {
      throw std::invalid_argument("[pad] Padding must be non-negative, got (" + std::to_string(low_pad[i]) + ", " +
                                  std::to_string(high_pad[i]) + ") for axis " + std::to_string(axes[i]) + ".");
    }
    low[ax] = low_pad[i];
    high[ax] = high_pad[i];
  }
  Shape out_shape = a.shape();
  for (int d = 0; d < a.ndim(); ++d) out_shape[d] += low[d] + high[d];
  shape_size(out_shape);
  if (mode == "constant") {
    auto st = to_stream(s);
    auto base = full(out_shape, astype(reshape(pad_value, {}, st), a.dtype(), st), a.dtype(), st);
    Shape stop(a.ndim());
    for (int d = 0; d < a.ndim(); ++d) stop[d] = low[d] + a.shape(d);
    return slice_update(base, a, low, stop, st);
  }
  // Edge: per axis, concatenate the broadcast first/last slices around the array.
  array x = a;
  for (int d = 0; d < a.ndim(); ++d) {
    if (low[d] == 0 && high[d] == 0) continue;
    if (x.shape(d) == 0) throw std::invalid_argument("[pad] Cannot edge-pad an empty axis.");
    std::vector<array> parts;
    Shape start(x.ndim(), 0), stop = x.shape();
    if (low[d] > 0) {
      stop[d] = 1;
      Shape bs = x.shape();
      bs[d] = low[d];
      parts.push_back(broadcast_to(slice(x, start, stop, s), bs, s));
    }
    parts.push_back(x);
    if (high[d] > 0) {
      start[d] = x.shape(d) - 1;
      stop[d] = x.shape(d);
      Shape bs = x.shape();
      bs[d] = high[d];
      parts.push_back(broadcast_to(slice(x, start, stop, s), bs, s));
    }
    x = concatenate(parts, d, s);
  }
  return x;
}

array pad(const array& a, const std::vector<std::pair<int, int>>& pad_width, const array& pad_value,
          const std::string& mode, StreamOrDevice s) {
  std::vector<std::pair<int, int>> pw = pad_width;
  if (pw.size() == 1 && a.ndim() != 1) pw.assign(a.ndim(), pad_width[0]);
  if (static_cast<int>(pw.size()) != a.ndim()) {
    throw std::invalid_argument("[pad] Expected one (low, high) pair per dimension (" + std::to_string(a.ndim()) +
                                "), got " + std::to_string(pw.size()) + ".");
  }
  std::vector<int> axes(a.ndim());
  std::iota(axes.begin(), axes.end(), 0);
  Shape low, high;
  for (auto& [l, h] : pw) {
    low.push_back(l);
    high.push_back(h);
  }
  return pad(a, axes, low, high, pad_value, mode, s);
}

array pad(const array& a, const std::pair<int, int>& pad_width, const array& pad_value, const std::string& mode,
          StreamOrDevice s) {
  return pad(a, std::vector<std::pair<int, int>>(a.ndim(), pad_width), pad_value, mode, s);
}

array pad(const array& a, int pad_width, const array& pad_value, const std::string& mode, StreamOrDevice s) {
  return pad(a, std::vector<std::pair<int, int>>(a.ndim(), {pad_width, pad_width}), pad_value, mode, s);
}

array roll(const array& a, const Shape& shift, const std::vector<int>& axes, StreamOrDevice s) {
  if (shift.size() != axes.size() && shift.size() != 1) {
    throw std::invalid_argument("[roll] Expected one shift per axis, got " + std::to_string(shift.size()) + " shifts for " +
                                std::to_string(axes.size()) + " axes.");
  }
  array x = a;
  for (size_t i = 0; i < axes.size(); ++i) {
    int ax = normalize_axis(axes[i], a.ndim(), "roll");
    int n = a.shape(ax);
    if (n == 0) continue;
    int64_t sh = shift.size() == 1 ? shift[0] : shift[i];
    int k = static_cast<int>(((sh % n) + n) % n);
    if (k == 0) continue;
    Shape start(a.ndim(), 0), stop = a.shape();
    start[ax] = n - k;
    auto tail = slice(x, start, stop, s);
    start[ax] = 0;
    stop[ax] = n - k;
    auto head = slice(x, start, stop, s);
    x = concatenate({tail, head}, ax, s);
  }
  return x;
}

array roll(const array& a, int shift, const std::vector<int>& axes, StreamOrDevice s) { return roll(a, Shape{shift}, axes, s); }
array roll(const array& a, int shift, int axis, StreamOrDevice s) { return roll(a, Shape{shift}, std::vector<int>{axis}, s); }
array roll(const array& a, int shift, StreamOrDevice s) {
  if (a.ndim() == 0) return a;
  return reshape(roll(flatten(a, 0, -1, s), shift, 0, s), a.shape(), s);
}

array diagonal(const array& a, int offset, int axis1, int axis2, StreamOrDevice s) {
  if (a.ndim() < 2) throw std::invalid_argument("[diagonal] Array must have at least two dimensions, got " + std::to_string(a.ndim()) + ".");
  int a1 = normalize_axis(axis1, a.ndim(), "diagonal");
  int a2 = normalize_axis(axis2, a.ndim(), "diagonal");
  if (a1 == a2) throw std::invalid_argument("[diagonal] axis1 and axis2 cannot be the same axis.");
  int64_t n1 = a.shape(a1), n2 = a.shape(a2);
  int64_t len = offset >= 0 ? std::min<int64_t>(n1, n2 - offset) : std::min<int64_t>(n1 + offset, n2);
  len = std::max<int64_t>(len, 0);
  Shape shape;
  for (int d = 0; d < a.ndim(); ++d) {
    if (d != a1 && d != a2) shape.push_back(a.shape(d));
  }
  shape.push_back(static_cast<ShapeElem>(len));
  return array(std::move(shape), a.dtype(), std::make_shared<Diagonal>(to_stream(s), len > 0 ? offset : 0, a1, a2), {a});
}

array diag(const array& a, int k, StreamOrDevice s) {
  if (a.ndim() == 2) return diagonal(a, k, 0, 1, s);
  if (a.ndim() != 1) throw std::invalid_argument("[diag] Input must be 1- or 2-dimensional, got " + std::to_string(a.ndim()) + " dimensions.");
  // Write a into a flat zero buffer with step n+1, starting at the diagonal's first element.
  int n = a.shape(0) + std::abs(k);
  shape_size({n, n});
  auto st = to_stream(s);
  auto flat = zeros({n * n}, a.dtype(), st);
  int start = k >= 0 ? k : -k * n;
  int stop = a.shape(0) == 0 ? start : start + (a.shape(0) - 1) * (n + 1) + 1;
  flat = slice_update(flat, a, {start}, {stop}, {n + 1}, st);
  return reshape(flat, {n, n}, st);
}

namespace {
array tri_mask(const array& a, int k, bool lower, const char* name, StreamOrDevice s) {
  if (a.ndim() < 2) {
    throw std::invalid_argument(std::string("[") + name + "] Array must have at least two dimensions, got " +
                                std::to_string(a.ndim()) + ".");
  }
  return array(a.shape(), a.dtype(), std::make_shared<TriMask>(to_stream(s), k, lower), {a});
}
}  // namespace

array tril(const array& a, int k, StreamOrDevice s) { return tri_mask(a, k, true, "tril", s); }
array triu(const array& a, int k, StreamOrDevice s) { return tri_mask(a, k, false, "triu", s); }

array flip(const array& a, const std::vector<int>& axes, StreamOrDevice s) {
  Shape start(a.ndim(), 0), stop = a.shape(), steps(a.ndim(), 1);
  std::set<int> seen;
  for (int ax : axes) {
    int d = normalize_axis(ax, a.ndim(), "flip");
    if (!seen.insert(d).second) throw std::invalid_argument("[flip] Repeated axis.");
    start[d] = -1;
    stop[d] = -a.shape(d) - 1;
    steps[d] = -1;
  }
  return slice(a, start, stop, steps, s);
}

array flip(const array& a, StreamOrDevice s) {
  std::vector<int> axes(a.ndim());
  std::iota(axes.begin(), axes.end(), 0);
  return flip(a, axes, s);
}

}  // namespace tessera
