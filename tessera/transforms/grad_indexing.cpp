// vjp/jvp rules of gather/scatter (with sum/prod/max/min reductions), the along-axis variants and (dynamic) slice updates.
#include <optional>

#include "tessera/primitives/indexing.h"
#include "tessera/primitives/shape.h"
#include "tessera/transforms/rules_common.h"

namespace tessera {

using rules::tangent_of;

namespace {
std::vector<array> index_inputs(const std::vector<array>& primals, size_t first, size_t last) {
  return std::vector<array>(primals.begin() + first, primals.begin() + last);
}
}  // namespace

// Gather: inputs a, idx...; out = I + slice_sizes.
std::vector<array> Gather::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                               const std::vector<int>& argnums, const std::vector<array>&) {
  auto idx = index_inputs(primals, 1, primals.size());
  std::vector<array> r;
  for (int a : argnums) {
    r.push_back(a == 0 ? scatter_add(zeros_like(primals[0]), idx, cotangents[0], axes_) : zeros_like(primals[a]));
  }
  return r;
}
std::vector<array> Gather::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                               const std::vector<int>& argnums) {
  auto idx = index_inputs(primals, 1, primals.size());
  return {gather(tangent_of(0, primals, tangents, argnums), idx, axes_, slice_sizes_)};
}

// Scatter: inputs a, idx..., updates (I + one dim per dim of a).
// prod: the product rule, exact where inputs are zero (counts zeros instead of dividing by them).
// max/min: the gradient goes to the winning element(s) of a and the updates; tied winners share it
// equally (as JAX's scatter_max/min do), so the vjp and the jvp are the same linear map's transposes.
namespace {
struct ScatterParts {
  std::vector<array> idx;
  array upd;
  std::vector<int> axes;
  Shape slice;
  // out-shaped x read at every update position, shaped like the updates.
  array at_updates(const array& x) const { return reshape(gather(x, idx, axes, slice), upd.shape()); }
  // Sum of update-shaped u into out-shaped zeros at the update positions.
  array add_to(const array& like, const array& u) const { return scatter_add(zeros_like(like), idx, u, axes); }
};
ScatterParts scatter_parts(const std::vector<array>& primals, const std::vector<int>& axes) {
  size_t nu = primals.size() - 1;
  const array& upd = primals[nu];
  return {index_inputs(primals, 1, nu), upd, axes, Shape(upd.shape().end() - primals[0].ndim(), upd.shape().end())};
}
// max/min: 0/1 masks of the winners in a and in the updates, and the number of winners per position.
struct Winners {
  array in_a, in_upd, count;
};
Winners winners(const ScatterParts& p, const array& a, const array& out) {
  auto ma = astype(equal(a, out), a.dtype());
  auto mu = astype(equal(p.upd, p.at_updates(out)), a.dtype());
  return {ma, mu, add(ma, p.add_to(a, mu))};
}
// prod: for each update, the product of everything else combined at its position (a excluded).
array prod_of_others(const ScatterParts& p, const array& a) {
  auto zero = equal(p.upd, rules::scal(0, p.upd));
  auto nonzero_prod = scatter_prod(ones_like(a), p.idx, where(zero, rules::scal(1, p.upd), p.upd), p.axes);
  auto zeros_at = p.at_updates(p.add_to(a, astype(zero, a.dtype())));
  auto pn = p.at_updates(nonzero_prod);
  auto if_zero = where(equal(zeros_at, rules::scal(1, a)), pn, zeros_like(pn));
  auto if_nonzero = where(equal(zeros_at, rules::scal(0, a)), divide(pn, where(zero, rules::scal(1, p.upd), p.upd)),
                          zeros_like(pn));
  return where(zero, if_zero, if_nonzero);
}
}  // namespace

std::vector<array> Scatter::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                const std::vector<int>& argnums, const std::vector<array>& outputs) {
  const array& c = cotangents[0];
  const array& a = primals[0];
  size_t nu = primals.size() - 1;
  auto p = scatter_parts(primals, axes_);
  std::optional<Winners> w;
  if (reduce_ == ScatterReduce::max || reduce_ == ScatterReduce::min) w = winners(p, a, outputs[0]);
  std::vector<array> r;
  for (int i : argnums) {
    if (i == 0) {
      switch (reduce_) {
        case ScatterReduce::sum: r.push_back(c); break;
        case ScatterReduce::none: r.push_back(scatter(c, p.idx, zeros_like(p.upd), axes_)); break;
        case ScatterReduce::prod: r.push_back(multiply(c, scatter_prod(ones_like(a), p.idx, p.upd, axes_))); break;
        default: r.push_back(divide(multiply(c, w->in_a), w->count));
      }
    } else if (static_cast<size_t>(i) == nu) {
      switch (reduce_) {
        case ScatterReduce::sum:
        case ScatterReduce::none: r.push_back(p.at_updates(c)); break;
        case ScatterReduce::prod: r.push_back(multiply(p.at_updates(multiply(c, a)), prod_of_others(p, a))); break;
        default: r.push_back(multiply(p.at_updates(divide(c, w->count)), w->in_upd));
      }
    } else {
      r.push_back(zeros_like(primals[i]));
    }
  }
  return r;
}
std::vector<array> Scatter::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                const std::vector<int>& argnums) {
  size_t nu = primals.size() - 1;
  auto p = scatter_parts(primals, axes_);
  const array& a = primals[0];
  auto ta = tangent_of(0, primals, tangents, argnums);
  auto tu = tangent_of(static_cast<int>(nu), primals, tangents, argnums);
  switch (reduce_) {
    case ScatterReduce::sum: return {scatter_add(ta, p.idx, tu, axes_)};
    case ScatterReduce::none: return {scatter(ta, p.idx, tu, axes_)};
    case ScatterReduce::prod:
      return {add(multiply(ta, scatter_prod(ones_like(a), p.idx, p.upd, axes_)),
                  multiply(a, p.add_to(a, multiply(tu, prod_of_others(p, a)))))};
    default: {
      auto w = winners(p, a, rules::current_outputs(name())[0]);
      return {divide(add(multiply(ta, w.in_a), p.add_to(a, multiply(tu, w.in_upd))), w.count)};
    }
  }
}

std::vector<array> GatherAxis::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                   const std::vector<int>& argnums, const std::vector<array>&) {
  std::vector<array> r;
  for (int a : argnums) {
    r.push_back(a == 0 ? scatter_add_axis(zeros_like(primals[0]), primals[1], cotangents[0], axis_)
                       : zeros_like(primals[a]));
  }
  return r;
}
std::vector<array> GatherAxis::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                   const std::vector<int>& argnums) {
  return {take_along_axis(tangent_of(0, primals, tangents, argnums), primals[1], axis_)};
}

// ScatterAxis: inputs a, idx, values.
std::vector<array> ScatterAxis::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                    const std::vector<int>& argnums, const std::vector<array>&) {
  if (reduce_ != ScatterReduce::none && reduce_ != ScatterReduce::sum) {
    throw std::invalid_argument("[ScatterAxis] vjp is not implemented for prod/max/min scatters.");
  }
  const array& c = cotangents[0];
  std::vector<array> r;
  for (int a : argnums) {
    if (a == 0) {
      r.push_back(reduce_ == ScatterReduce::sum ? c : put_along_axis(c, primals[1], zeros_like(primals[2]), axis_));
    } else if (a == 2) {
      r.push_back(take_along_axis(c, primals[1], axis_));
    } else {
      r.push_back(zeros_like(primals[a]));
    }
  }
  return r;
}
std::vector<array> ScatterAxis::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                    const std::vector<int>& argnums) {
  if (reduce_ != ScatterReduce::none && reduce_ != ScatterReduce::sum) {
    throw std::invalid_argument("[ScatterAxis] jvp is not implemented for prod/max/min scatters.");
  }
  auto ta = tangent_of(0, primals, tangents, argnums);
  auto tv = tangent_of(2, primals, tangents, argnums);
  return {reduce_ == ScatterReduce::sum ? scatter_add_axis(ta, primals[1], tv, axis_)
                                        : put_along_axis(ta, primals[1], tv, axis_)};
}

// SliceUpdate: inputs src, update (the slice's shape).
std::vector<array> SliceUpdate::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                    const std::vector<int>& argnums, const std::vector<array>&) {
  const array& c = cotangents[0];
  const array& upd = primals[1];
  std::vector<array> r;
  for (int a : argnums) {
    if (a == 0) {
      r.push_back(array(c.shape(), c.dtype(), std::make_shared<SliceUpdate>(stream(), start_, strides_),
                        {c, zeros(upd.shape(), c.dtype())}));
    } else {
      Shape stop(start_.size());
      for (size_t d = 0; d < start_.size(); ++d) stop[d] = start_[d] + upd.shape(d) * strides_[d];
      r.push_back(array(upd.shape(), c.dtype(), std::make_shared<Slice>(stream(), start_, stop, strides_), {c}));
    }
  }
  return r;
}
std::vector<array> SliceUpdate::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                    const std::vector<int>& argnums) {
  auto ts = tangent_of(0, primals, tangents, argnums);
  auto tu = astype(tangent_of(1, primals, tangents, argnums), ts.dtype());
  return {array(ts.shape(), ts.dtype(), std::make_shared<SliceUpdate>(stream(), start_, strides_), {ts, tu})};
}

// DynamicSlice: inputs a, start.
std::vector<array> DynamicSlice::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                     const std::vector<int>& argnums, const std::vector<array>&) {
  std::vector<array> r;
  for (int a : argnums) {
    r.push_back(a == 0 ? dynamic_slice_update(zeros_like(primals[0]), cotangents[0], primals[1], axes_)
                       : zeros_like(primals[a]));
  }
  return r;
}
std::vector<array> DynamicSlice::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                     const std::vector<int>& argnums) {
  auto& outs = rules::current_outputs(name());
  return {dynamic_slice(tangent_of(0, primals, tangents, argnums), primals[1], axes_, outs[0].shape())};
}

// DynamicSliceUpdate: inputs src, update, start.
std::vector<array> DynamicSliceUpdate::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                           const std::vector<int>& argnums, const std::vector<array>&) {
  const array& c = cotangents[0];
  std::vector<array> r;
  for (int a : argnums) {
    if (a == 0) r.push_back(dynamic_slice_update(c, zeros_like(primals[1]), primals[2], axes_));
    else if (a == 1) r.push_back(dynamic_slice(c, primals[2], axes_, primals[1].shape()));
    else r.push_back(zeros_like(primals[a]));
  }
  return r;
}
std::vector<array> DynamicSliceUpdate::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                           const std::vector<int>& argnums) {
  return {dynamic_slice_update(tangent_of(0, primals, tangents, argnums), tangent_of(1, primals, tangents, argnums),
                               primals[2], axes_)};
}

}  // namespace tessera
