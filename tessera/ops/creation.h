// Array creation ops: filled, ranged, identity-like.
#pragma once

#include "tessera/array.h"
#include "tessera/device.h"

namespace tessera {

array full(Shape shape, const array& vals, Dtype dtype, StreamOrDevice s = {});
array full(Shape shape, const array& vals, StreamOrDevice s = {});
template <typename T>
array full(Shape shape, T val, Dtype dtype, StreamOrDevice s = {}) {
  return full(std::move(shape), array(val, dtype), dtype, s);
}
template <typename T>
array full(Shape shape, T val, StreamOrDevice s = {}) {
  return full(std::move(shape), array(val), s);
}
array zeros(const Shape& shape, Dtype dtype = float32, StreamOrDevice s = {});
array ones(const Shape& shape, Dtype dtype = float32, StreamOrDevice s = {});
array zeros_like(const array& a, StreamOrDevice s = {});
array ones_like(const array& a, StreamOrDevice s = {});
array full_like(const array& a, const array& vals, StreamOrDevice s = {});

// Values start, start+step, ... below stop (NumPy's arange), in dtype.
array arange(double start, double stop, double step, Dtype dtype, StreamOrDevice s = {});
array arange(double start, double stop, double step = 1.0, StreamOrDevice s = {});  // float32
array arange(int start, int stop, int step = 1, StreamOrDevice s = {});              // int32
array arange(int stop, StreamOrDevice s = {});                                        // int32
array arange(double stop, StreamOrDevice s = {});                                     // float32

// num evenly spaced values from start to stop inclusive (NumPy's linspace; ints floor).
array linspace(double start, double stop, int num = 50, Dtype dtype = float32, StreamOrDevice s = {});

// (n, m) with ones on diagonal k (k > 0 above the main diagonal) and zeros elsewhere.
array eye(int n, int m, int k = 0, Dtype dtype = float32, StreamOrDevice s = {});
array eye(int n, Dtype dtype = float32, StreamOrDevice s = {});
array identity(int n, Dtype dtype = float32, StreamOrDevice s = {});  // eye(n, n)
// (n, m) with ones at and below diagonal k (j <= i + k), zeros above.
array tri(int n, int m, int k = 0, Dtype dtype = float32, StreamOrDevice s = {});
array tri(int n, Dtype dtype = float32, StreamOrDevice s = {});

}  // namespace tessera
