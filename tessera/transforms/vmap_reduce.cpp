// vmap rules of reductions, scans and softmax: the batch axis goes first and the reduced axes shift.
#include "tessera/primitives/reduce.h"
#include "tessera/transforms/rules_common.h"

namespace tessera {

using VmapOut = std::pair<std::vector<array>, std::vector<int>>;

VmapOut Reduce::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  auto x = rules::batch_first(in[0], ax[0], 0);
  std::vector<int> axes;
  for (int a : axes_) axes.push_back(a + 1);
  array out = x;
  switch (type_) {
    case And: out = all(x, axes, true); break;
    case Or: out = any(x, axes, true); break;
    case Sum: out = sum(x, axes, true); break;
    case Prod: out = prod(x, axes, true); break;
    case Min: out = min(x, axes, true); break;
    case Max: out = max(x, axes, true); break;
    case Mean: out = mean(x, axes, true); break;
  }
  return {{out}, {0}};
}

VmapOut ArgReduce::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  auto x = rules::batch_first(in[0], ax[0], 0);
  return {{type_ == ArgMax ? argmax(x, axis_ + 1, true) : argmin(x, axis_ + 1, true)}, {0}};
}

VmapOut Scan::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  auto x = rules::batch_first(in[0], ax[0], 0);
  int a = axis_ + 1;
  array out = x;
  switch (type_) {
    case Sum: out = cumsum(x, a, reverse_, inclusive_); break;
    case Prod: out = cumprod(x, a, reverse_, inclusive_); break;
    case Max: out = cummax(x, a, reverse_, inclusive_); break;
    case Min: out = cummin(x, a, reverse_, inclusive_); break;
  }
  return {{out}, {0}};
}

VmapOut Variance::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  auto x = rules::batch_first(in[0], ax[0], 0);
  return {{sqrt_ ? std(x, -1, true, ddof_) : var(x, -1, true, ddof_)}, {0}};
}

VmapOut LogSumExp::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  auto x = rules::batch_first(in[0], ax[0], 0);
  return {{logsumexp(x, -1, true)}, {0}};
}

VmapOut Softmax::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  auto x = rules::batch_first(in[0], ax[0], 0);
  return {{log_ ? log_softmax(x, -1, precise_) : softmax(x, -1, precise_)}, {0}};
}

}  // namespace tessera
