// Reduction ops (sum, max, mean, var, argmax, logsumexp, ...), scans (cumsum, ...) and softmax.
#pragma once

#include <vector>

#include "tessera/array.h"
#include "tessera/device.h"

namespace tessera {

// Each reduction has an axes overload (negative axes allowed; empty axes reduce nothing), a single-axis
// overload and an all-axes overload. keepdims keeps reduced axes as size 1.
#define TESSERA_REDUCE_DECL(NAME)                                                                      \
  array NAME(const array& a, const std::vector<int>& axes, bool keepdims = false, StreamOrDevice s = {}); \
  array NAME(const array& a, int axis, bool keepdims = false, StreamOrDevice s = {});                     \
  array NAME(const array& a, bool keepdims, StreamOrDevice s = {});                                        \
  array NAME(const array& a, StreamOrDevice s = {});

// Sums/products of bool, int8, int16 give int32; of uint8, uint16 give uint32; else the input dtype.
TESSERA_REDUCE_DECL(sum)
TESSERA_REDUCE_DECL(prod)
// Keep the dtype; NaN propagates; reducing an empty axis throws.
TESSERA_REDUCE_DECL(max)
TESSERA_REDUCE_DECL(min)
// Integer inputs give float32.
TESSERA_REDUCE_DECL(mean)
// Bool results (nonzero is true).
TESSERA_REDUCE_DECL(all)
TESSERA_REDUCE_DECL(any)
// Numerically stable log(sum(exp(a))); integer inputs give float32.
TESSERA_REDUCE_DECL(logsumexp)
#undef TESSERA_REDUCE_DECL

// Variance and standard deviation with `ddof` delta degrees of freedom (divides by n - ddof).
array var(const array& a, const std::vector<int>& axes, bool keepdims = false, int ddof = 0, StreamOrDevice s = {});
array var(const array& a, int axis, bool keepdims = false, int ddof = 0, StreamOrDevice s = {});
array var(const array& a, bool keepdims = false, int ddof = 0, StreamOrDevice s = {});
array std(const array& a, const std::vector<int>& axes, bool keepdims = false, int ddof = 0, StreamOrDevice s = {});
array std(const array& a, int axis, bool keepdims = false, int ddof = 0, StreamOrDevice s = {});
array std(const array& a, bool keepdims = false, int ddof = 0, StreamOrDevice s = {});

// uint32 index of the first max/min along `axis`, or into the flattened array.
array argmax(const array& a, int axis, bool keepdims = false, StreamOrDevice s = {});
array argmax(const array& a, bool keepdims = false, StreamOrDevice s = {});
array argmin(const array& a, int axis, bool keepdims = false, StreamOrDevice s = {});
array argmin(const array& a, bool keepdims = false, StreamOrDevice s = {});

// Scans along `axis` (the flattened array without one). reverse scans from the end; exclusive
// (inclusive = false) shifts by one and starts from the identity. cumsum/cumprod of bool give int32.
#define TESSERA_SCAN_DECL(NAME)                                                                           \
  array NAME(const array& a, int axis, bool reverse = false, bool inclusive = true, StreamOrDevice s = {}); \
  array NAME(const array& a, bool reverse = false, bool inclusive = true, StreamOrDevice s = {});
TESSERA_SCAN_DECL(cumsum)
TESSERA_SCAN_DECL(cumprod)
TESSERA_SCAN_DECL(cummax)
TESSERA_SCAN_DECL(cummin)
#undef TESSERA_SCAN_DECL

// Softmax over `axes` (all axes without them); integer inputs give float32. 16-bit floats are always
// computed in float (so `precise` is accepted for MLX compatibility).
array softmax(const array& a, const std::vector<int>& axes, bool precise = false, StreamOrDevice s = {});
array softmax(const array& a, int axis, bool precise = false, StreamOrDevice s = {});
array softmax(const array& a, bool precise = false, StreamOrDevice s = {});
// a - logsumexp(a, axes, keepdims=true), fused.
array log_softmax(const array& a, const std::vector<int>& axes, bool precise = false, StreamOrDevice s = {});
array log_softmax(const array& a, int axis, bool precise = false, StreamOrDevice s = {});
array log_softmax(const array& a, bool precise = false, StreamOrDevice s = {});

}  // namespace tessera
