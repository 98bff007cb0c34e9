// vmap rules of gather (take) and take_along_axis.
#include "tessera/primitives/indexing.h"
#include "tessera/transforms/rules_common.h"

namespace tessera {

std::pair<std::vector<array>, std::vector<int>> Gather::vmap(const std::vector<array>& in,
                                                            const std::vector<int>& ax) {
  int n = rules::batch_size(in, ax);
  bool a_mapped = ax[0] >= 0, idx_mapped = false;
  int ind = 0;  // ndim of the unbatched indices
  for (size_t i = 1; i < in.size(); ++i) {
    idx_mapped |= ax[i] >= 0;
    ind = in[i].ndim() - (ax[i] >= 0 ? 1 : 0);
  }
  std::vector<int> axes;
  for (int a : axes_) axes.push_back(a + 1);
  Shape ss = slice_sizes_;
  if (!idx_mapped) {
    std::vector<array> idx(in.begin() + 1, in.end());
    ss.insert(ss.begin(), n);
    return {{gather(rules::batch_first(in[0], ax[0], n), idx, axes, ss)}, {ind}};
  }
  std::vector<array> idx;
  for (size_t i = 1; i < in.size(); ++i) idx.push_back(rules::batch_first(in[i], ax[i], n));
  if (!a_mapped) return {{gather(in[0], idx, axes_, slice_sizes_)}, {0}};
  Shape bs(ind + 1, 1);
  bs[0] = n;
  idx.insert(idx.begin(), reshape(arange(0, n), bs));
  axes.insert(axes.begin(), 0);
  ss.insert(ss.begin(), 1);
  auto g = gather(rules::batch_first(in[0], ax[0], n), idx, axes, ss);  // (n, I..., 1, ss...)
  Shape s = g.shape();
  s.erase(s.begin() + 1 + ind);
  return {{reshape(g, s)}, {0}};
}

std::pair<std::vector<array>, std::vector<int>> GatherAxis::vmap(const std::vector<array>& in,
                                                                const std::vector<int>& ax) {
  int n = rules::batch_size(in, ax);
  auto a = rules::batch_first(in[0], ax[0], n);
  auto idx = rules::batch_first(in[1], ax[1], n);
  return {{take_along_axis(a, idx, axis_ + 1)}, {0}};
}

}  // namespace tessera
