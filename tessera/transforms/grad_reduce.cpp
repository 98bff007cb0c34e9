// vjp/jvp rules of reductions, arg-reductions, scans, variance, logsumexp and softmax.
#include <numeric>

#include "tessera/primitives/reduce.h"
#include "tessera/transforms/rules_common.h"

namespace tessera {

using rules::scal;

namespace {

// d prod / d x_i over a consecutive block of axes: product of all the other elements (zero-safe).
array prod_partials(const array& x, const std::vector<int>& axes) {
  int a0 = axes.front(), a1 = axes.back();
  Shape s(x.shape().begin(), x.shape().begin() + a0);
  ShapeElem n = 1;
  for (int a = a0; a <= a1; ++a) n *= x.shape(a);
  s.push_back(n);
  s.insert(s.end(), x.shape().begin() + a1 + 1, x.shape().end());
  auto xr = reshape(x, s);
  auto left = cumprod(xr, a0, false, false);
  auto right = cumprod(xr, a0, true, false);
  return reshape(multiply(left, right), x.shape());
}

// The weight each element gets in d(reduce)/dx for Sum/Mean/Prod/Max/Min (x's shape).
array reduce_partials(Reduce::ReduceType type, const array& x, const array& out, const std::vector<int>& axes) {
  switch (type) {
    case Reduce::Sum:
      return ones_like(x);
    case Reduce::Mean: {
      double n = 1;
      for (int a : axes) n *= x.shape(a);
      return full(x.shape(), array(1.0 / n, x.dtype()), x.dtype());
    }
    case Reduce::Prod:
      return prod_partials(x, axes);
    default: {  // Max / Min: split among ties
      auto mask = astype(equal(x, out), x.dtype());
      return divide(mask, sum(mask, axes, true));
    }
  }
}

}  // namespace

std::vector<array> Reduce::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                               const std::vector<int>&, const std::vector<array>& outputs) {
  const array& x = primals[0];
  if (!rules::differentiable(x) || type_ == And || type_ == Or) return {zeros_like(x)};
  auto c = broadcast_to(cotangents[0], x.shape());
  if (type_ == Sum) return {c};
  return {multiply(c, reduce_partials(type_, x, outputs[0], axes_))};
}

std::vector<array> Reduce::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                               const std::vector<int>&) {
  const array& x = primals[0];
  Shape os = x.shape();
  for (int a : axes_) os[a] = 1;
  if (!rules::differentiable(x) || type_ == And || type_ == Or) {
    return {zeros(os, type_ == And || type_ == Or ? bool_ : x.dtype())};
  }
  if (type_ == Sum) return {sum(tangents[0], axes_, true)};
  array out = type_ == Max ? max(x, axes_, true) : type_ == Min ? min(x, axes_, true) : x;
  return {sum(multiply(tangents[0], reduce_partials(type_, x, out, axes_)), axes_, true)};
}

std::vector<array> ArgReduce::vjp(const std::vector<array>& primals, const std::vector<array>&,
                                  const std::vector<int>&, const std::vector<array>&) {
  return {zeros_like(primals[0])};
}
std::vector<array> ArgReduce::jvp(const std::vector<array>& primals, const std::vector<array>&,
                                  const std::vector<int>&) {
  Shape s = primals[0].shape();
  s[axis_] = 1;
  return {zeros(s, uint32)};
}

namespace {
// Moves the elements along `axis` by one: left (drop the first, append 0) or right.
array shift(const array& a, int axis, bool left) {
  int n = a.shape(axis);
  if (n == 0) return a;
  Shape start(a.ndim(), 0), stop = a.shape(), zs = a.shape();
  zs[axis] = 1;
  auto z = zeros(zs, a.dtype());
  if (left) {
    start[axis] = 1;
    return concatenate({slice(a, start, stop), z}, axis);
  }
  stop[axis] = n - 1;
  return concatenate({z, slice(a, start, stop)}, axis);
}

// For cummax/cummin scanned forward (inclusive): the index along `axis` whose value each output takes.
array scan_source(const array& x, int axis, bool is_max) {
  auto y = is_max ? cummax(x, axis) : cummin(x, axis);
  Shape ps(x.ndim(), 1);
  ps[axis] = x.shape(axis);
  auto pos = reshape(arange(0, x.shape(axis)), ps);
  auto idx = where(equal(x, y), pos, array(0, int32));
  return cummax(idx, axis);
}

// Zero-safe pieces of an inclusive forward cumprod y of x along `axis` (no division by zero):
// z is the first zero along the axis; before (i < z), at (i == z); xs is x with 1 where not
// before z (a safe divisor); y1 is the cumprod of x with its first zero replaced by 1.
struct CumprodParts {
  array before, at, xs, y1;
};
CumprodParts cumprod_parts(const array& x, int axis) {
  auto is_zero = equal(x, scal(0.0, x));
  auto zeros_so_far = cumsum(astype(is_zero, int32), axis);
  auto before = equal(zeros_so_far, array(0, int32));
  auto at = logical_and(is_zero, equal(zeros_so_far, array(1, int32)));
  auto one = scal(1.0, x);
  return {before, at, where(before, x, one), cumprod(where(at, one, x), axis)};
}

// vjp of the inclusive forward cumprod y = cumprod(x, axis):
// dx_i = sum_{j >= i} c_j y_j / x_i before the first zero, sum_{j >= z} c_j y1_j at it, 0 after.
array cumprod_vjp(const array& x, const array& y, const array& c, int axis) {
  auto p = cumprod_parts(x, axis);
  auto rcs = [&](const array& a) { return cumsum(a, axis, true); };
  auto zero = scal(0.0, x);
  return where(p.before, divide(rcs(multiply(c, y)), p.xs), where(p.at, rcs(multiply(c, p.y1)), zero));
}

// jvp of the inclusive forward cumprod: y_j * sum_{i <= j} t_i / x_i before the first zero,
// t_z * y1_j from it on (every other term holds the zero).
array cumprod_jvp(const array& x, const array& t, int axis) {
  auto p = cumprod_parts(x, axis);
  auto y = cumprod(x, axis);
  auto zero = scal(0.0, x);
  auto t_at = sum(where(p.at, t, zero), axis, true);
  return where(p.before, multiply(y, cumsum(divide(where(p.before, t, zero), p.xs), axis)), multiply(t_at, p.y1));
}
}  // namespace

std::vector<array> Scan::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                             const std::vector<int>&, const std::vector<array>& outputs) {
  const array& x = primals[0];
  const array& c = cotangents[0];
  if (!rules::differentiable(x)) return {zeros_like(x)};
  if (type_ == Sum) return {cumsum(c, axis_, !reverse_, inclusive_)};
  auto fl = [&](const array& a) { return reverse_ ? flip(a, std::vector<int>{axis_}) : a; };
  auto xf = fl(x);
  if (type_ == Prod) {  // in forward order; an exclusive scan is the inclusive one shifted right
    auto cf = fl(c);
    if (!inclusive_) cf = shift(cf, axis_, true);
    auto y = inclusive_ ? fl(outputs[0]) : cumprod(xf, axis_);
    return {fl(cumprod_vjp(xf, y, cf, axis_))};
  }
  auto src = scan_source(xf, axis_, type_ == Max);
  auto cf = fl(c);
  if (!inclusive_) cf = shift(cf, axis_, true);
  return {fl(scatter_add_axis(zeros_like(xf), src, cf, axis_))};
}

std::vector<array> Scan::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                             const std::vector<int>&) {
  const array& x = primals[0];
  const array& t = tangents[0];
  if (!rules::differentiable(x)) return {zeros_like(x)};
  if (type_ == Sum) return {cumsum(t, axis_, reverse_, inclusive_)};
  auto fl = [&](const array& a) { return reverse_ ? flip(a, std::vector<int>{axis_}) : a; };
  auto xf = fl(x);
  if (type_ == Prod) {
    auto r = cumprod_jvp(xf, fl(t), axis_);
    if (!inclusive_) r = shift(r, axis_, false);
    return {fl(r)};
  }
  auto r = take_along_axis(fl(t), scan_source(xf, axis_, type_ == Max), axis_);
  if (!inclusive_) r = shift(r, axis_, false);
  return {fl(r)};
}

namespace {
// d var / dx (or d std / dx) over the last axis.
array variance_partials(const array& x, const array& out, int ddof, bool take_sqrt) {
  double d = static_cast<double>(x.shape(-1)) - ddof;
  auto centered = subtract(x, mean(x, -1, true));
  if (take_sqrt) return divide(centered, multiply(scal(d, x), out));
  return multiply(scal(2.0 / d, x), centered);
}
}  // namespace

std::vector<array> Variance::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                 const std::vector<int>&, const std::vector<array>& outputs) {
  return {multiply(cotangents[0], variance_partials(primals[0], outputs[0], ddof_, sqrt_))};
}
std::vector<array> Variance::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                 const std::vector<int>&) {
  const array& x = primals[0];
  auto out = sqrt_ ? std(x, -1, true, ddof_) : var(x, -1, true, ddof_);
  return {sum(multiply(tangents[0], variance_partials(x, out, ddof_, sqrt_)), -1, true)};
}

std::vector<array> LogSumExp::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                  const std::vector<int>&, const std::vector<array>& outputs) {
  return {multiply(cotangents[0], exp(subtract(primals[0], outputs[0])))};
}
std::vector<array> LogSumExp::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                  const std::vector<int>&) {
  const array& x = primals[0];
  return {sum(multiply(tangents[0], softmax(x, -1, true)), -1, true)};
}

std::vector<array> Softmax::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                const std::vector<int>&, const std::vector<array>& outputs) {
  const array& y = outputs[0];
  const array& c = cotangents[0];
  if (log_) return {subtract(c, multiply(exp(y), sum(c, -1, true)))};
  return {multiply(y, subtract(c, sum(multiply(c, y), -1, true)))};
}
std::vector<array> Softmax::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                const std::vector<int>&) {
  const array& x = primals[0];
  const array& t = tangents[0];
  auto p = softmax(x, -1, precise_);
  if (log_) return {subtract(t, sum(multiply(p, t), -1, true))};
  return {multiply(p, subtract(t, sum(multiply(t, p), -1, true)))};
}

}  // namespace tessera
