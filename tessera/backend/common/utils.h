// Shape and stride helpers shared by backends: broadcasting, dimension collapsing, strided walks.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "tessera/array.h"

namespace tessera {

// NumPy broadcast of two or more shapes; throws "[op] Shapes ... cannot be broadcast." naming op.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op = "broadcast_shapes");

// Normalizes an axis for an array of ndim dims; throws std::out_of_range "[op] ...".
int normalize_axis(int axis, int ndim, const char* op);

// Merges adjacent dimensions that are contiguous in every one of the given stride sets.
// Returns the collapsed shape and one stride vector per input.
std::pair<Shape, std::vector<Strides>> collapse_contiguous_dims(const Shape& shape,
                                                                const std::vector<Strides>& strides);
std::pair<Shape, std::vector<Strides>> collapse_contiguous_dims(const std::vector<array>& arrays);

// Layout flags and spanned element count of a (shape, strides) view.
array::Flags flags_for(const Shape& shape, const Strides& strides, size_t* data_size);

// Element offset of linear index i (row-major logical order) in a strided array.
inline int64_t elem_to_loc(size_t i, const Shape& shape, const Strides& strides) {
  int64_t loc = 0;
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0 && i; --d) {
    auto q = i / static_cast<size_t>(shape[d]);
    loc += static_cast<int64_t>(i - q * shape[d]) * strides[d];
    i = q;
  }
  return loc;
}

// Walks the elements of one or more arrays of a common shape in row-major order, tracking each
// array's element offset incrementally (amortized O(1) per step).
template <int N>
struct StridedWalker {
  Shape shape;
  std::vector<Strides> strides;  // N stride sets
  std::vector<int32_t> idx;
  int64_t loc[N] = {};

  StridedWalker(Shape s, std::vector<Strides> st) : shape(std::move(s)), strides(std::move(st)), idx(shape.size(), 0) {}
  void seek(size_t i) {
    for (int k = 0; k < N; ++k) loc[k] = 0;
    for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
      auto q = i / static_cast<size_t>(shape[d]);
      idx[d] = static_cast<int32_t>(i - q * shape[d]);
      for (int k = 0; k < N; ++k) loc[k] += idx[d] * strides[k][d];
      i = q;
    }
  }
  void next() {
    for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
      if (++idx[d] < shape[d]) {
        for (int k = 0; k < N; ++k) loc[k] += strides[k][d];
        return;
      }
      for (int k = 0; k < N; ++k) loc[k] -= static_cast<int64_t>(shape[d] - 1) * strides[k][d];
      idx[d] = 0;
    }
  }
};

}  // namespace tessera
