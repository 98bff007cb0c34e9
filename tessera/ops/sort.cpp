// Sorting ops: validate axis/kth and build Sort/ArgSort/Partition/ArgPartition nodes; topk slices a
// partition.
#include "tessera/ops/sort.h"

#include <string>

#include "tessera/backend/common/utils.h"
#include "tessera/ops/shape.h"
#include "tessera/primitives/sort.h"

namespace tessera {

namespace {
int check_kth(const array& a, int kth, int axis, const char* op) {
  int n = a.shape(axis);
  int k = kth < 0 ? kth + n : kth;
  if (k < 0 || k >= n) {
    throw std::invalid_argument(std::string("[") + op + "] Received invalid kth " + std::to_string(kth) +
                                " along axis " + std::to_string(axis) + " of size " + std::to_string(n) + ".");
  }
  return k;
}
}  // namespace

array sort(const array& a, int axis, StreamOrDevice s) {
  int ax = normalize_axis(axis, a.ndim(), "sort");
  return array(a.shape(), a.dtype(), std::make_shared<Sort>(to_stream(s), ax), {a});
}
array sort(const array& a, StreamOrDevice s) { return sort(reshape(a, {-1}, s), 0, s); }

array argsort(const array& a, int axis, StreamOrDevice s) {
  int ax = normalize_axis(axis, a.ndim(), "argsort");
  return array(a.shape(), uint32, std::make_shared<ArgSort>(to_stream(s), ax), {a});
}
array argsort(const array& a, StreamOrDevice s) { return argsort(reshape(a, {-1}, s), 0, s); }

array partition(const array& a, int kth, int axis, StreamOrDevice s) {
  int ax = normalize_axis(axis, a.ndim(), "partition");
  int k = check_kth(a, kth, ax, "partition");
  return array(a.shape(), a.dtype(), std::make_shared<Partition>(to_stream(s), k, ax), {a});
}
array partition(const array& a, int kth, StreamOrDevice s) { return partition(reshape(a, {-1}, s), kth, 0, s); }

array argpartition(const array& a, int kth, int axis, StreamOrDevice s) {
  int ax = normalize_axis(axis, a.ndim(), "argpartition");
  int k = check_kth(a, kth, ax, "argpartition");
  return array(a.shape(), uint32, std::make_shared<ArgPartition>(to_stream(s), k, ax), {a});
}
array argpartition(const array& a, int kth, StreamOrDevice s) {
  return argpartition(reshape(a, {-1}, s), kth, 0, s);
}

array topk(const array& a, int k, int axis, StreamOrDevice s) {
  int ax = normalize_axis(axis, a.ndim(), "topk");
  int n = a.shape(ax);
  if (k < 0 || k > n) {
    throw std::invalid_argument("[topk] Received invalid k " + std::to_string(k) + " along axis " +
                                std::to_string(axis) + " of size " + std::to_string(n) + ".");
  }
  Shape start(a.ndim(), 0), stop = a.shape();
  start[ax] = n - k;
  if (k == 0) return slice(a, start, stop, s);
  return slice(partition(a, n - k, ax, s), start, stop, s);
}
array topk(const array& a, int k, StreamOrDevice s) { return topk(a, k, -1, s); }

}  // namespace tessera
