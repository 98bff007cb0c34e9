// Helpers shared by the fused CPU kernels: contiguous temporaries and a vectorizable dot product.
#pragma once

#include <cstddef>

#include "tessera/array.h"
#include "tessera/backend/cpu/copy.h"

namespace tessera::cpu {

// `in` itself when it is dense row-major data of dtype `dtype` (and not broadcast), else a fresh
// row-contiguous copy converted to `dtype`.
inline array contiguous_as(const array& in, Dtype dtype) {
  if (in.dtype() == dtype && in.flags().row_contiguous && in.data_size() == in.size()) return in;
  array tmp(in.shape(), dtype, nullptr, {});
  copy_to_contiguous(in, tmp);
  return tmp;
}

// sum(a[i] * b[i]) with 16 independent partial sums so the loop vectorizes without -ffast-math.
template <typename A>
inline A dot16(const A* a, const A* b, size_t n) {
  A acc[16] = {};
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int k = 0; k < 16; ++k) acc[k] += a[i + k] * b[i + k];
  }
  A s = 0;
  for (; i < n; ++i) s += a[i] * b[i];
  for (int k = 0; k < 16; ++k) s += acc[k];
  return s;
}

// sum(a[i]) and sum((a[i] - c)^2) the same way.
template <typename A>
inline A sum16(const A* a, size_t n) {
  A acc[16] = {};
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int k = 0; k < 16; ++k) acc[k] += a[i + k];
  }
  A s = 0;
  for (; i < n; ++i) s += a[i];
  for (int k = 0; k < 16; ++k) s += acc[k];
  return s;
}
template <typename A>
inline A sq_dev16(const A* a, A c, size_t n) {
  A acc[16] = {};
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int k = 0; k < 16; ++k) {
      A d = a[i + k] - c;
      acc[k] += d * d;
    }
  }
  A s = 0;
  for (; i < n; ++i) s += (a[i] - c) * (a[i] - c);
  for (int k = 0; k < 16; ++k) s += acc[k];
  return s;
}

}  // namespace tessera::cpu
