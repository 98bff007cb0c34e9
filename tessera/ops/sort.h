// Sorting ops: sort, argsort, partition, argpartition and topk along one axis.
#pragma once

#include "tessera/array.h"
#include "tessera/device.h"

namespace tessera {

// Sorted along `axis` (NaNs last); without an axis, the flattened array is sorted.
array sort(const array& a, int axis, StreamOrDevice s = {});
array sort(const array& a, StreamOrDevice s = {});
// uint32 indices of a stable sort.
array argsort(const array& a, int axis, StreamOrDevice s = {});
array argsort(const array& a, StreamOrDevice s = {});
// Element kth (negative counts from the end) lands where a sort would put it; smaller-or-equal values
// come before it and greater-or-equal after, in unspecified order.
array partition(const array& a, int kth, int axis, StreamOrDevice s = {});
array partition(const array& a, int kth, StreamOrDevice s = {});
array argpartition(const array& a, int kth, int axis, StreamOrDevice s = {});
array argpartition(const array& a, int kth, StreamOrDevice s = {});
// The k largest values along `axis` (default last), in unspecified order.
array topk(const array& a, int k, int axis, StreamOrDevice s = {});
array topk(const array& a, int k, StreamOrDevice s = {});

}  // namespace tessera
