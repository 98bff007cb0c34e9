// vjp/jvp rules of creation, layout (reshape, broadcast, transpose, slice, cast) and manipulation primitives.
#include <numeric>

#include "tessera/primitives/creation.h"
#include "tessera/primitives/indexing.h"
#include "tessera/primitives/manipulation.h"
#include "tessera/primitives/shape.h"
#include "tessera/transforms/rules_common.h"

namespace tessera {

using rules::scal;

#define TESSERA_VJP_SIG(NAME)                                                                          \
  std::vector<array> NAME::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents, \
                               [[maybe_unused]] const std::vector<int>& argnums,                       \
                               [[maybe_unused]] const std::vector<array>& outputs)
#define TESSERA_JVP_SIG(NAME)                                                                          \
  std::vector<array> NAME::jvp([[maybe_unused]] const std::vector<array>& primals,                     \
                               const std::vector<array>& tangents, [[maybe_unused]] const std::vector<int>& argnums)

// Full's input is already broadcast to the output (a copy).
TESSERA_VJP_SIG(Full) { return {astype(cotangents[0], primals[0].dtype())}; }
TESSERA_JVP_SIG(Full) { return {tangents[0]}; }

TESSERA_VJP_SIG(Arange) { return rules::zero_cotangents(primals, argnums); }
TESSERA_JVP_SIG(Arange) { throw std::invalid_argument("[Arange] has no inputs to differentiate."); }

TESSERA_VJP_SIG(AsType) {
  if (!rules::differentiable(primals[0])) return {zeros_like(primals[0])};
  return {astype(cotangents[0], primals[0].dtype())};
}
TESSERA_JVP_SIG(AsType) { return {astype(tangents[0], dtype_)}; }

TESSERA_VJP_SIG(Copy) { return {cotangents[0]}; }
TESSERA_JVP_SIG(Copy) { return {tangents[0]}; }

TESSERA_VJP_SIG(Reshape) { return {reshape(cotangents[0], primals[0].shape())}; }
TESSERA_JVP_SIG(Reshape) { return {reshape(tangents[0], shape_)}; }

TESSERA_VJP_SIG(Broadcast) { return {rules::sum_to_shape(cotangents[0], primals[0].shape())}; }
TESSERA_JVP_SIG(Broadcast) { return {broadcast_to(tangents[0], shape_)}; }

TESSERA_VJP_SIG(Transpose) {
  std::vector<int> inv(axes_.size());
  for (size_t i = 0; i < axes_.size(); ++i) inv[axes_[i]] = static_cast<int>(i);
  return {transpose(cotangents[0], inv)};
}
TESSERA_JVP_SIG(Transpose) { return {transpose(tangents[0], axes_)}; }

TESSERA_VJP_SIG(Slice) {
  const array& c = cotangents[0];
  auto z = zeros(primals[0].shape(), c.dtype());
  return {array(z.shape(), c.dtype(), std::make_shared<SliceUpdate>(stream(), start_, strides_), {z, c})};
}
TESSERA_JVP_SIG(Slice) { return {slice(tangents[0], start_, stop_, strides_)}; }

TESSERA_VJP_SIG(Concatenate) {
  const array& c = cotangents[0];
  std::vector<int> offsets{0};
  for (auto& p : primals) offsets.push_back(offsets.back() + p.shape(axis_));
  std::vector<array> r;
  for (int a : argnums) {
    Shape start(c.ndim(), 0), stop = c.shape();
    start[axis_] = offsets[a];
    stop[axis_] = offsets[a + 1];
    r.push_back(slice(c, start, stop));
  }
  return r;
}
TESSERA_JVP_SIG(Concatenate) {
  std::vector<array> ts;
  for (auto& p : primals) ts.push_back(zeros_like(p));
  for (size_t j = 0; j < argnums.size(); ++j) ts[argnums[j]] = tangents[j];
  return {concatenate(ts, axis_)};
}

// The diagonal's cotangent written back onto the (axis1, axis2) plane.
TESSERA_VJP_SIG(Diagonal) {
  const array& x = primals[0];
  const array& c = cotangents[0];
  int n1 = x.shape(axis1_), n2 = x.shape(axis2_);
  int len = c.shape(-1);
  if (len == 0) return {zeros_like(x)};
  int row0 = std::max(0, -offset_);
  std::vector<int32_t> idx(n1);
  for (int i = 0; i < n1; ++i) idx[i] = std::clamp(i - row0, 0, len - 1);
  auto g = take(c, array(idx, {n1}, int32), -1);                     // (rest..., n1)
  g = multiply(expand_dims(g, -1), eye(n1, n2, offset_, c.dtype()));  // (rest..., n1, n2)
  std::vector<int> order;
  for (int d = 0; d < x.ndim(); ++d) {
    if (d != axis1_ && d != axis2_) order.push_back(d);
  }
  order.push_back(axis1_);
  order.push_back(axis2_);
  std::vector<int> perm(x.ndim());
  for (int j = 0; j < x.ndim(); ++j) perm[order[j]] = j;
  return {transpose(g, perm)};
}
TESSERA_JVP_SIG(Diagonal) { return {diagonal(tangents[0], offset_, axis1_, axis2_)}; }

TESSERA_VJP_SIG(TriMask) { return {lower_ ? tril(cotangents[0], k_) : triu(cotangents[0], k_)}; }
TESSERA_JVP_SIG(TriMask) { return {lower_ ? tril(tangents[0], k_) : triu(tangents[0], k_)}; }

}  // namespace tessera
