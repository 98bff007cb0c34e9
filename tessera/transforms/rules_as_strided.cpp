// vjp, jvp and vmap of as_strided: the cotangent is scatter-added at the strided positions of the
// (contiguous) input, the tangent takes the same view, and vmap adds the batch as a leading stride.
#include "tessera/primitives/shape.h"
#include "tessera/transforms/rules_common.h"

namespace tessera {

namespace {
// The flat input position each output element reads: offset + sum_k i_k * strides[k], shape `shape`.
array strided_positions(const Shape& shape, const Strides& strides, int64_t offset, Dtype dt) {
  array pos = array(static_cast<double>(offset), dt);
  for (size_t k = 0; k < shape.size(); ++k) {
    Shape s(shape.size(), 1);
    s[k] = shape[k];
    auto i = multiply(astype(arange(0, shape[k]), dt), array(static_cast<double>(strides[k]), dt));
    pos = add(pos, reshape(i, s));
  }
  return broadcast_to(pos, shape);
}
}  // namespace

// Input: a (contiguous, the op makes it so); out (shape_) reads a's flat buffer at the strided positions.
std::vector<array> AsStrided::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                  const std::vector<int>&, const std::vector<array>&) {
  const array& a = primals[0];
  const array& c = cotangents[0];
  int64_t hi = offset_, total = 1;
  for (size_t k = 0; k < shape_.size(); ++k) {
    hi += std::max<int64_t>(0, strides_[k] * (shape_[k] - 1));
    total *= shape_[k];
  }
  // Positions past a's elements (a view of a larger buffer) land in a tail that is cut off.
  int64_t n = std::max<int64_t>(static_cast<int64_t>(a.size()), hi + 1);
  if (total == 0) return {zeros_like(a)};
  Dtype it = n < (int64_t{1} << 31) ? int32 : int64;
  auto pos = reshape(strided_positions(shape_, strides_, offset_, it), {static_cast<ShapeElem>(total)});
  auto flat = scatter_add_axis(zeros({static_cast<ShapeElem>(n)}, c.dtype()), pos,
                               reshape(c, {static_cast<ShapeElem>(total)}), 0);
  if (n > static_cast<int64_t>(a.size())) flat = slice(flat, {0}, {static_cast<ShapeElem>(a.size())});
  return {reshape(flat, a.shape())};
}
std::vector<array> AsStrided::jvp(const std::vector<array>&, const std::vector<array>& tangents,
                                  const std::vector<int>&) {
  return {as_strided(tangents[0], shape_, strides_, offset_)};
}

// The batch goes first and the input is made contiguous: example b starts b * (its size) later.
std::pair<std::vector<array>, std::vector<int>> AsStrided::vmap(const std::vector<array>& in,
                                                                const std::vector<int>& ax) {
  auto x = contiguous(rules::batch_first(in[0], ax[0], 0));
  int64_t per = x.shape(0) == 0 ? 0 : static_cast<int64_t>(x.size()) / x.shape(0);
  Shape s = shape_;
  s.insert(s.begin(), x.shape(0));
  Strides st = strides_;
  st.insert(st.begin(), per);
  return {{as_strided(x, s, st, offset_)}, {0}};
}

}  // namespace tessera
