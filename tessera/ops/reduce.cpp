// Reduction, scan and softmax ops: validate axes, pick dtypes, build Reduce/Scan/Softmax nodes.
#include "tessera/ops/reduce.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "tessera/backend/common/utils.h"
#include "tessera/ops/shape.h"
#include "tessera/primitives/reduce.h"

namespace tessera {

namespace {

// Sorted, normalized axes; throws out_of_range / invalid_argument naming `op`.
std::vector<int> normalize_axes(const std::vector<int>& axes, int ndim, const char* op) {
  std::vector<int> out;
  for (int ax : axes) out.push_back(normalize_axis(ax, ndim, op));
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end()) {
    throw std::invalid_argument(std::string("[") + op + "] Received duplicate axes.");
  }
  return out;
}

std::vector<int> all_axes(const array& a) {
  std::vector<int> ax(a.ndim());
  std::iota(ax.begin(), ax.end(), 0);
  return ax;
}

// Shape of `a` reduced over sorted `axes` (kept as 1 or dropped).
Shape reduced_shape(const Shape& shape, const std::vector<int>& axes, bool keepdims) {
  Shape out;
  for (int i = 0; i < static_cast<int>(shape.size()); ++i) {
    bool red = std::binary_search(axes.begin(), axes.end(), i);
    if (!red) out.push_back(shape[i]);
    else if (keepdims) out.push_back(1);
  }
  return out;
}

size_t reduced_size(const Shape& shape, const std::vector<int>& axes) {
  size_t n = 1;
  for (int ax : axes) n *= shape[ax];
  return n;
}

// Moves sorted `axes` of `a` to the end and merges them into one axis: shape [kept..., prod(axes)].
array axes_to_last_row(const array& a, const std::vector<int>& axes, Stream st) {
  std::vector<int> perm;
  Shape shape;
  for (int i = 0; i < a.ndim(); ++i) {
    if (!std::binary_search(axes.begin(), axes.end(), i)) {
      perm.push_back(i);
      shape.push_back(a.shape(i));
    }
  }
  perm.insert(perm.end(), axes.begin(), axes.end());
  shape.push_back(static_cast<ShapeElem>(reduced_size(a.shape(), axes)));
  return reshape(transpose(a, perm, st), shape, st);
}

array reduce_impl(const array& a_in, const std::vector<int>& axes_in, bool keepdims, Reduce::ReduceType type,
                  Dtype out_dtype, const char* op, StreamOrDevice s) {
  auto st = to_stream(s);
  auto axes = normalize_axes(axes_in, a_in.ndim(), op);
  auto a = astype(a_in, out_dtype == bool_ ? bool_ : a_in.dtype(), st);
  if (type == Reduce::Mean && !is_inexact(a.dtype())) a = astype(a, out_dtype, st);
  if (axes.empty()) return astype(a, out_dtype, st);
  Shape final_shape = reduced_shape(a.shape(), axes, keepdims);
  if ((type == Reduce::Max || type == Reduce::Min) && reduced_size(a.shape(), axes) == 0 &&
      shape_size(final_shape) > 0) {
    throw std::invalid_argument(std::string("[") + op + "] Cannot reduce over an empty axis (no identity).");
  }
  bool consecutive = axes.back() - axes.front() + 1 == static_cast<int>(axes.size());
  array in = a;
  std::vector<int> prim_axes = axes;
  if (!consecutive) {
    in = axes_to_last_row(a, axes, st);
    prim_axes = {in.ndim() - 1};
  }
  Shape prim_shape = in.shape();
  for (int ax : prim_axes) prim_shape[ax] = 1;
  array out(prim_shape, out_dtype, std::make_shared<Reduce>(st, type, prim_axes), {in});
  return reshape(out, final_shape, st);
}

Dtype sum_dtype(Dtype d) {
  if (d == bool_ || d == int8 || d == int16) return int32;
  if (d == uint8 || d == uint16) return uint32;
  return d;
}

void check_not_complex(const array& a, const char* op) {
  if (is_complex(a.dtype())) throw std::invalid_argument(std::string("[") + op + "] Not supported for complex64.");
}

}  // namespace

#define TESSERA_REDUCE_OVERLOADS(NAME)                                                               \
  array NAME(const array& a, int axis, bool keepdims, StreamOrDevice s) {                           \
    return NAME(a, std::vector<int>{axis}, keepdims, s);                                             \
  }                                                                                                  \
  array NAME(const array& a, bool keepdims, StreamOrDevice s) { return NAME(a, all_axes(a), keepdims, s); } \
  array NAME(const array& a, StreamOrDevice s) { return NAME(a, all_axes(a), false, s); }

array sum(const array& a, const std::vector<int>& axes, bool keepdims, StreamOrDevice s) {
  return reduce_impl(a, axes, keepdims, Reduce::Sum, sum_dtype(a.dtype()), "sum", s);
}
array prod(const array& a, const std::vector<int>& axes, bool keepdims, StreamOrDevice s) {
  return reduce_impl(a, axes, keepdims, Reduce::Prod, sum_dtype(a.dtype()), "prod", s);
}
array max(const array& a, const std::vector<int>& axes, bool keepdims, StreamOrDevice s) {
  check_not_complex(a, "max");
  return reduce_impl(a, axes, keepdims, Reduce::Max, a.dtype(), "max", s);
}
array min(const array& a, const std::vector<int>& axes, bool keepdims, StreamOrDevice s) {
  check_not_complex(a, "min");
  return reduce_impl(a, axes, keepdims, Reduce::Min, a.dtype(), "min", s);
}
array mean(const array& a, const std::vector<int>& axes, bool keepdims, StreamOrDevice s) {
  return reduce_impl(a, axes, keepdims, Reduce::Mean, to_inexact(a.dtype()), "mean", s);
}
array all(const array& a, const std::vector<int>& axes, bool keepdims, StreamOrDevice s) {
  return reduce_impl(a, axes, keepdims, Reduce::And, bool_, "all", s);
}
array any(const array& a, const std::vector<int>& axes, bool keepdims, StreamOrDevice s) {
  return reduce_impl(a, axes, keepdims, Reduce::Or, bool_, "any", s);
}

array logsumexp(const array& a, const std::vector<int>& axes_in, bool keepdims, StreamOrDevice s) {
  check_not_complex(a, "logsumexp");
  auto st = to_stream(s);
  auto axes = normalize_axes(axes_in, a.ndim(), "logsumexp");
  auto in = axes_to_last_row(astype(a, to_inexact(a.dtype()), st), axes, st);
  Shape ps = in.shape();
  ps.back() = 1;
  array out(ps, in.dtype(), std::make_shared<LogSumExp>(st), {in});
  return reshape(out, reduced_shape(a.shape(), axes, keepdims), st);
}

TESSERA_REDUCE_OVERLOADS(sum)
TESSERA_REDUCE_OVERLOADS(prod)
TESSERA_REDUCE_OVERLOADS(max)
TESSERA_REDUCE_OVERLOADS(min)
TESSERA_REDUCE_OVERLOADS(mean)
TESSERA_REDUCE_OVERLOADS(all)
TESSERA_REDUCE_OVERLOADS(any)
TESSERA_REDUCE_OVERLOADS(logsumexp)
#undef TESSERA_REDUCE_OVERLOADS

namespace {
array var_impl(const array& a, const std::vector<int>& axes_in, bool keepdims, int ddof, bool take_sqrt,
               const char* op, StreamOrDevice s) {
  check_not_complex(a, op);
  auto st = to_stream(s);
  auto axes = normalize_axes(axes_in, a.ndim(), op);
  auto in = axes_to_last_row(astype(a, to_inexact(a.dtype()), st), axes, st);
  Shape ps = in.shape();
  ps.back() = 1;
  array out(ps, in.dtype(), std::make_shared<Variance>(st, ddof, take_sqrt), {in});
  return reshape(out, reduced_shape(a.shape(), axes, keepdims), st);
}
}  // namespace

array var(const array& a, const std::vector<int>& axes, bool keepdims, int ddof, StreamOrDevice s) {
  return var_impl(a, axes, keepdims, ddof, false, "var", s);
}
array var(const array& a, int axis, bool keepdims, int ddof, StreamOrDevice s) {
  return var(a, std::vector<int>{axis}, keepdims, ddof, s);
}
array var(const array& a, bool keepdims, int ddof, StreamOrDevice s) { return var(a, all_axes(a), keepdims, ddof, s); }
array std(const array& a, const std::vector<int>& axes, bool keepdims, int ddof, StreamOrDevice s) {
  return var_impl(a, axes, keepdims, ddof, true, "std", s);
}
array std(const array& a, int axis, bool keepdims, int ddof, StreamOrDevice s) {
  return std(a, std::vector<int>{axis}, keepdims, ddof, s);
}
array std(const array& a, bool keepdims, int ddof, StreamOrDevice s) { return std(a, all_axes(a), keepdims, ddof, s); }

namespace {
array arg_reduce(const array& a, int axis_in, bool keepdims, ArgReduce::ReduceType t, const char* op,
                 StreamOrDevice s) {
  check_not_complex(a, op);
  auto st = to_stream(s);
  int axis = normalize_axis(axis_in, a.ndim(), op);
  if (a.shape(axis) == 0 && a.size() == 0) {
    Shape os = a.shape();
    os[axis] = 1;
    if (shape_size(os) > 0) throw std::invalid_argument(std::string("[") + op + "] Cannot reduce an empty axis.");
  }
  Shape ps = a.shape();
  ps[axis] = 1;
  array out(ps, uint32, std::make_shared<ArgReduce>(st, t, axis), {a});
  if (keepdims) return out;
  return squeeze(out, {axis}, st);
}
array arg_reduce_all(const array& a, bool keepdims, ArgReduce::ReduceType t, const char* op, StreamOrDevice s) {
  auto st = to_stream(s);
  auto out = arg_reduce(reshape(a, {-1}, st), 0, false, t, op, s);
  if (keepdims) return reshape(out, Shape(a.ndim(), 1), st);
  return out;
}
}  // namespace

array argmax(const array& a, int axis, bool keepdims, StreamOrDevice s) {
  return arg_reduce(a, axis, keepdims, ArgReduce::ArgMax, "argmax", s);
}
array argmax(const array& a, bool keepdims, StreamOrDevice s) {
  return arg_reduce_all(a, keepdims, ArgReduce::ArgMax, "argmax", s);
}
array argmin(const array& a, int axis, bool keepdims, StreamOrDevice s) {
  return arg_reduce(a, axis, keepdims, ArgReduce::ArgMin, "argmin", s);
}
array argmin(const array& a, bool keepdims, StreamOrDevice s) {
  return arg_reduce_all(a, keepdims, ArgReduce::ArgMin, "argmin", s);
}

namespace {
array scan_impl(const array& a, int axis_in, bool reverse, bool inclusive, Scan::ReduceType t, const char* op,
                StreamOrDevice s) {
  auto st = to_stream(s);
  int axis = normalize_axis(axis_in, a.ndim(), op);
  if (t == Scan::Max || t == Scan::Min) check_not_complex(a, op);
  Dtype d = a.dtype();
  if ((t == Scan::Sum || t == Scan::Prod) && d == bool_) d = int32;
  auto in = astype(a, d, st);
  return array(a.shape(), d, std::make_shared<Scan>(st, t, axis, reverse, inclusive), {in});
}
}  // namespace

#define TESSERA_SCAN_DEF(NAME, TYPE)                                                        \
  array NAME(const array& a, int axis, bool reverse, bool inclusive, StreamOrDevice s) {    \
    return scan_impl(a, axis, reverse, inclusive, Scan::TYPE, #NAME, s);                    \
  }                                                                                          \
  array NAME(const array& a, bool reverse, bool inclusive, StreamOrDevice s) {              \
    return scan_impl(reshape(a, {-1}, s), 0, reverse, inclusive, Scan::TYPE, #NAME, s);     \
  }
TESSERA_SCAN_DEF(cumsum, Sum)
TESSERA_SCAN_DEF(cumprod, Prod)
TESSERA_SCAN_DEF(cummax, Max)
TESSERA_SCAN_DEF(cummin, Min)
#undef TESSERA_SCAN_DEF

namespace {
array softmax_impl(const array& a_in, const std::vector<int>& axes_in, bool precise, bool log, const char* op,
                   StreamOrDevice s) {
  check_not_complex(a_in, op);
  auto st = to_stream(s);
  auto axes = normalize_axes(axes_in, a_in.ndim(), op);
  auto a = astype(a_in, to_inexact(a_in.dtype()), st);
  if (axes.size() == 1 && axes[0] == a.ndim() - 1) {
    return array(a.shape(), a.dtype(), std::make_shared<Softmax>(st, precise, log), {a});
  }
  // Move the axes last and merge them, run the row kernel, then undo the move.
  auto in = axes_to_last_row(a, axes, st);
  array out(in.shape(), in.dtype(), std::make_shared<Softmax>(st, precise, log), {in});
  std::vector<int> perm;
  Shape moved;
  for (int i = 0; i < a.ndim(); ++i) {
    if (!std::binary_search(axes.begin(), axes.end(), i)) perm.push_back(i);
  }
  perm.insert(perm.end(), axes.begin(), axes.end());
  for (int p : perm) moved.push_back(a.shape(p));
  std::vector<int> inv(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) inv[perm[i]] = static_cast<int>(i);
  return transpose(reshape(out, moved, st), inv, st);
}
}  // namespace

array softmax(const array& a, const std::vector<int>& axes, bool precise, StreamOrDevice s) {
  return softmax_impl(a, axes, precise, false, "softmax", s);
}
array softmax(const array& a, int axis, bool precise, StreamOrDevice s) {
  return softmax(a, std::vector<int>{axis}, precise, s);
}
array softmax(const array& a, bool precise, StreamOrDevice s) { return softmax(a, all_axes(a), precise, s); }
array log_softmax(const array& a, const std::vector<int>& axes, bool precise, StreamOrDevice s) {
  return softmax_impl(a, axes, precise, true, "log_softmax", s);
}
array log_softmax(const array& a, int axis, bool precise, StreamOrDevice s) {
  return log_softmax(a, std::vector<int>{axis}, precise, s);
}
array log_softmax(const array& a, bool precise, StreamOrDevice s) { return log_softmax(a, all_axes(a), precise, s); }

}  // namespace tessera
