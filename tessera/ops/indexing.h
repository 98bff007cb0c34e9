// Indexing ops: take/gather/scatter, along-axis variants, slice updates, and NumPy-style indexing.
#pragma once

#include <cstdint>
#include <optional>
#include <variant>
#include <vector>

#include "tessera/array.h"
#include "tessera/device.h"

namespace tessera {

// indices: any integer shape I; result: a.shape[:axis] + I + a.shape[axis+1:]. Negative indices
// wrap; out-of-range ones throw std::out_of_range "[gather] ..." at evaluation.
array take(const array& a, const array& indices, int axis, StreamOrDevice s = {});
array take(const array& a, int index, int axis, StreamOrDevice s = {});
array take(const array& a, const array& indices, StreamOrDevice s = {});  // over the flattened array
array take(const array& a, int index, StreamOrDevice s = {});

// indices: ndim of a, broadcastable with a except along axis.
array take_along_axis(const array& a, const array& indices, int axis, StreamOrDevice s = {});
// values broadcast to the indices' (broadcast) shape; returns a with them written.
array put_along_axis(const array& a, const array& indices, const array& values, int axis, StreamOrDevice s = {});
array scatter_add_axis(const array& a, const array& indices, const array& values, int axis, StreamOrDevice s = {});

// indices (one per axis) broadcast to I; result I + slice_sizes (slice_sizes: one per dim of a).
array gather(const array& a, const std::vector<array>& indices, const std::vector<int>& axes, const Shape& slice_sizes,
             StreamOrDevice s = {});
array gather(const array& a, const array& indices, int axis, const Shape& slice_sizes, StreamOrDevice s = {});

// indices (one per axis) broadcast to I; updates: I + one dim per dim of a (each <= a's dim).
array scatter(const array& a, const std::vector<array>& indices, const array& updates, const std::vector<int>& axes,
              StreamOrDevice s = {});
array scatter(const array& a, const array& indices, const array& updates, int axis, StreamOrDevice s = {});
array scatter_add(const array& a, const std::vector<array>& indices, const array& updates,
                  const std::vector<int>& axes, StreamOrDevice s = {});
array scatter_add(const array& a, const array& indices, const array& updates, int axis, StreamOrDevice s = {});
array scatter_prod(const array& a, const std::vector<array>& indices, const array& updates,
                   const std::vector<int>& axes, StreamOrDevice s = {});
array scatter_prod(const array& a, const array& indices, const array& updates, int axis, StreamOrDevice s = {});
array scatter_max(const array& a, const std::vector<array>& indices, const array& updates,
                  const std::vector<int>& axes, StreamOrDevice s = {});
array scatter_max(const array& a, const array& indices, const array& updates, int axis, StreamOrDevice s = {});
array scatter_min(const array& a, const std::vector<array>& indices, const array& updates,
                  const std::vector<int>& axes, StreamOrDevice s = {});
array scatter_min(const array& a, const array& indices, const array& updates, int axis, StreamOrDevice s = {});

// src with update (broadcast to the slice's shape, cast to src's dtype) written into
// slice(src, start, stop, strides). In place when src's buffer can be donated.
array slice_update(const array& src, const array& update, Shape start, Shape stop, Shape strides,
                   StreamOrDevice s = {});
array slice_update(const array& src, const array& update, const Shape& start, const Shape& stop,
                   StreamOrDevice s = {});

// Slices whose start is an array (1-D integers, one per axis; read at evaluation). Named apart
// from `slice` to keep brace-initialized calls of `slice` unambiguous. Start wraps negatives and
// is clamped so the slice fits (as JAX's dynamic_slice).
array dynamic_slice(const array& a, const array& start, std::vector<int> axes, Shape slice_size,
                    StreamOrDevice s = {});
array dynamic_slice_update(const array& src, const array& update, const array& start, std::vector<int> axes,
                           StreamOrDevice s = {});

// NumPy indexing. An Index is an int, a slice, newaxis, ellipsis, or an array (integer arrays
// are advanced indices; bool arrays are masks, turned into nonzero positions eagerly).
struct SliceIndex {
  std::optional<int64_t> start, stop, step;
};
struct NewAxis {};
struct Ellipsis {};
inline constexpr NewAxis newaxis{};
inline constexpr Ellipsis ellipsis{};
using Index = std::variant<int64_t, SliceIndex, NewAxis, Ellipsis, array>;

// a[idx]: basic indexing gives views; advanced indexing follows NumPy (arrays broadcast together;
// their dims go first when separated by a slice/newaxis, else in place). Integer indices out of
// range throw std::out_of_range "[index] ...".
array index(const array& a, const std::vector<Index>& idx, StreamOrDevice s = {});
// a[idx] = value (value broadcast to the shape of a[idx]); returns the updated array.
array index_update(const array& a, const std::vector<Index>& idx, const array& value, StreamOrDevice s = {});

}  // namespace tessera
