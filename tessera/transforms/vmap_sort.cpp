// vmap rules of sort, argsort, partition and argpartition: the batch goes first, the axis shifts.
#include "tessera/primitives/sort.h"
#include "tessera/transforms/rules_common.h"

namespace tessera {

using VmapOut = std::pair<std::vector<array>, std::vector<int>>;

VmapOut Sort::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  return {{sort(rules::batch_first(in[0], ax[0], 0), axis_ + 1)}, {0}};
}
VmapOut ArgSort::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  return {{argsort(rules::batch_first(in[0], ax[0], 0), axis_ + 1)}, {0}};
}
VmapOut Partition::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  return {{partition(rules::batch_first(in[0], ax[0], 0), kth_, axis_ + 1)}, {0}};
}
VmapOut ArgPartition::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  return {{argpartition(rules::batch_first(in[0], ax[0], 0), kth_, axis_ + 1)}, {0}};
}

}  // namespace tessera
