// vmap rules of the layout and manipulation primitives: the batch axis goes first, the op shifts by one.
#include "tessera/primitives/manipulation.h"
#include "tessera/primitives/shape.h"
#include "tessera/transforms/rules_common.h"

namespace tessera {

using VmapOut = std::pair<std::vector<array>, std::vector<int>>;

VmapOut AsType::vmap(const std::vector<array>& in, const std::vector<int>& ax) { return {{astype(in[0], dtype_)}, {ax[0]}}; }
VmapOut Copy::vmap(const std::vector<array>& in, const std::vector<int>& ax) { return {{copy(in[0])}, {ax[0]}}; }

VmapOut Reshape::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  auto x = rules::batch_first(in[0], ax[0], 0);
  Shape s = shape_;
  s.insert(s.begin(), x.shape(0));
  return {{reshape(x, s)}, {0}};
}

VmapOut Broadcast::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  auto x = rules::batch_first(in[0], ax[0], 0);
  Shape s = x.shape();
  s.insert(s.begin() + 1, shape_.size() - (x.ndim() - 1), 1);
  Shape target = shape_;
  target.insert(target.begin(), x.shape(0));
  return {{broadcast_to(reshape(x, s), target)}, {0}};
}

VmapOut Transpose::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  auto x = rules::batch_first(in[0], ax[0], 0);
  std::vector<int> axes{0};
  for (int a : axes_) axes.push_back(a + 1);
  return {{transpose(x, axes)}, {0}};
}

VmapOut Slice::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  auto x = rules::batch_first(in[0], ax[0], 0);
  Shape start = start_, stop = stop_, strides = strides_;
  start.insert(start.begin(), 0);
  stop.insert(stop.begin(), x.shape(0));
  strides.insert(strides.begin(), 1);
  return {{slice(x, start, stop, strides)}, {0}};
}

VmapOut Concatenate::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  int n = rules::batch_size(in, ax);
  std::vector<array> xs;
  for (size_t i = 0; i < in.size(); ++i) xs.push_back(rules::batch_first(in[i], ax[i], n));
  return {{concatenate(xs, axis_ + 1)}, {0}};
}

VmapOut Diagonal::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  auto x = rules::batch_first(in[0], ax[0], 0);
  return {{diagonal(x, offset_, axis1_ + 1, axis2_ + 1)}, {0}};
}

VmapOut TriMask::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  auto x = rules::batch_first(in[0], ax[0], 0);
  return {{lower_ ? tril(x, k_) : triu(x, k_)}, {0}};
}

}  // namespace tessera
