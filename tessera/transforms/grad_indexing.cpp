// vjp/jvp rules of gather/scatter, the along-axis variants and (dynamic) slice updates.
#include "tessera/primitives/indexing.h"
#include "tessera/primitives/shape.h"
#include "tessera/transforms/rules_common.h"

namespace tessera {

namespace {
std::vector<array> index_inputs(const std::vector<array>& primals, size_t first, size_t last) {
  return std::vector<array>(primals.begin() + first, primals.begin() + last);
}
// Tangent of input i (zeros when it has none).
array tangent_of(int i, const std::vector<array>& primals, const std::vector<array>& tangents,
                 const std::vector<int>& argnums) {
  for (size_t j = 0; j < argnums.size(); ++j) {
    if (argnums[j] == i) return tangents[j];
  }
  return zeros_like(primals[i]);
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
std::vector<array> Scatter::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                const std::vector<int>& argnums, const std::vector<array>&) {
  if (reduce_ != ScatterReduce::none && reduce_ != ScatterReduce::sum) {
    throw std::invalid_argument("[Scatter] vjp is not implemented for prod/max/min scatters.");
  }
  const array& c = cotangents[0];
  size_t nu = primals.size() - 1;
  auto idx = index_inputs(primals, 1, nu);
  const array& upd = primals[nu];
  Shape ss(upd.shape().end() - primals[0].ndim(), upd.shape().end());
  std::vector<array> r;
  for (int a : argnums) {
    if (a == 0) {
      r.push_back(reduce_ == ScatterReduce::sum ? c : scatter(c, idx, zeros_like(upd), axes_));
    } else if (static_cast<size_t>(a) == nu) {
      r.push_back(reshape(gather(c, idx, axes_, ss), upd.shape()));
    } else {
      r.push_back(zeros_like(primals[a]));
    }
  }
  return r;
}
std::vector<array> Scatter::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                const std::vector<int>& argnums) {
  if (reduce_ != ScatterReduce::none && reduce_ != ScatterReduce::sum) {
    throw std::invalid_argument("[Scatter] jvp is not implemented for prod/max/min scatters.");
  }
  size_t nu = primals.size() - 1;
  auto idx = index_inputs(primals, 1, nu);
  auto ta = tangent_of(0, primals, tangents, argnums);
  auto tu = tangent_of(static_cast<int>(nu), primals, tangents, argnums);
  return {reduce_ == ScatterReduce::sum ? scatter_add(ta, idx, tu, axes_) : scatter(ta, idx, tu, axes_)};
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
