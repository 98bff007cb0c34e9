// Helpers shared by the CPU reduce/scan/sort/softmax kernels: contiguous inputs and axis layouts.
#pragma once

#include <cstddef>

#include "tessera/array.h"
#include "tessera/backend/cpu/copy.h"

namespace tessera::cpu {

// `x` itself when row-contiguous (or empty), else a fresh row-contiguous copy.
inline array row_contiguous_input(const array& x) {
  if (x.flags().row_contiguous || x.size() == 0) return x;
  array tmp(x.shape(), x.dtype(), nullptr, {});
  copy_to_contiguous(x, tmp);
  return tmp;
}

// A row-major shape seen as [outer, n, inner] around `axis`.
struct AxisLayout {
  size_t outer = 1, n = 1, inner = 1;
  AxisLayout(const Shape& shape, int axis) {
    for (int i = 0; i < static_cast<int>(shape.size()); ++i) {
      if (i < axis) outer *= shape[i];
      else if (i == axis) n = shape[i];
      else inner *= shape[i];
    }
  }
};

}  // namespace tessera::cpu
