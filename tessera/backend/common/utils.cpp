// Shape and stride helpers shared by backends.
#include "tessera/backend/common/utils.h"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace tessera {

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da == db || db == 1) {
      out[i] = da;
    } else if (da == 1) {
      out[i] = db;
    } else {
      throw std::invalid_argument(std::string("[") + op + "] Shapes " + shape_str(a) + " and " + shape_str(b) +
                                  " cannot be broadcast.");
    }
  }
  return out;
}

int normalize_axis(int axis, int ndim, const char* op) {
  int a = axis < 0 ? axis + ndim : axis;
  if (a < 0 || a >= ndim) {
    throw std::out_of_range(std::string("[") + op + "] axis " + std::to_string(axis) +
                            " is out of bounds for an array with " + std::to_string(ndim) + " dimensions.");
  }
  return a;
}

std::pair<Shape, std::vector<Strides>> collapse_contiguous_dims(const Shape& shape,
                                                                const std::vector<Strides>& strides) {
  Shape out_shape;
  std::vector<Strides> out_strides(strides.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;  // size-1 dims never affect offsets
    bool merge = !out_shape.empty();
    if (merge) {
      for (size_t k = 0; k < strides.size(); ++k) {
        if (out_strides[k].back() != strides[k][d] * shape[d]) {
          merge = false;
          break;
        }
      }
    }
    if (merge) {
      out_shape.back() *= shape[d];
      for (size_t k = 0; k < strides.size(); ++k) out_strides[k].back() = strides[k][d];
    } else {
      out_shape.push_back(shape[d]);
      for (size_t k = 0; k < strides.size(); ++k) out_strides[k].push_back(strides[k][d]);
    }
  }
  if (out_shape.empty()) {
    out_shape.push_back(1);
    for (auto& s : out_strides) s.push_back(0);
  }
  return {out_shape, out_strides};
}

std::pair<Shape, std::vector<Strides>> collapse_contiguous_dims(const std::vector<array>& arrays) {
  std::vector<Strides> st;
  for (auto& a : arrays) st.push_back(a.strides());
  return collapse_contiguous_dims(arrays[0].shape(), st);
}

array::Flags flags_for(const Shape& shape, const Strides& strides, size_t* data_size) {
  // Span of the view in elements and whether it is dense row/column major.
  size_t size = 1;
  for (auto d : shape) size *= d;
  bool row = true, col = true;
  int64_t expect = 1;
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    if (shape[d] == 1) continue;
    if (strides[d] != expect) row = false;
    expect *= shape[d];
  }
  expect = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (strides[d] != expect) col = false;
    expect *= shape[d];
  }
  // Dense in some order: the non-size-1 |strides| sorted form a row-major set.
  std::vector<std::pair<int64_t, int>> dims;
  bool has_negative = false;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (strides[d] < 0) has_negative = true;
    dims.emplace_back(strides[d], shape[d]);
  }
  std::sort(dims.begin(), dims.end());
  bool dense = !has_negative;
  expect = 1;
  for (auto& [s, n] : dims) {
    if (s != expect) dense = false;
    expect *= n;
  }
  size_t span = 1;
  if (size == 0) {
    span = 0;
  } else {
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] > 1) span += static_cast<size_t>(std::abs(strides[d])) * (shape[d] - 1);
    }
  }
  if (data_size) *data_size = dense ? size : span;
  return array::Flags{dense, row, col};
}

}  // namespace tessera
