// Array manipulation ops: concatenate/stack/split, tile/repeat, pad, roll, diagonals, triangles, flip.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "tessera/array.h"
#include "tessera/device.h"

namespace tessera {

// arrays: same shape except along axis; the result has their promoted dtype.
array concatenate(const std::vector<array>& arrays, int axis, StreamOrDevice s = {});
array concatenate(const std::vector<array>& arrays, StreamOrDevice s = {});  // flattened, axis 0
// arrays: all of one shape; joined along a new axis.
array stack(const std::vector<array>& arrays, int axis, StreamOrDevice s = {});
array stack(const std::vector<array>& arrays, StreamOrDevice s = {});

// Equal sections (num_splits must divide the axis) or at the given indices; views.
std::vector<array> split(const array& a, int num_splits, int axis, StreamOrDevice s = {});
std::vector<array> split(const array& a, int num_splits, StreamOrDevice s = {});
std::vector<array> split(const array& a, const Shape& indices, int axis, StreamOrDevice s = {});
std::vector<array> split(const array& a, const Shape& indices, StreamOrDevice s = {});

array tile(const array& a, std::vector<int> reps, StreamOrDevice s = {});
array repeat(const array& a, int repeats, int axis, StreamOrDevice s = {});
array repeat(const array& a, int repeats, StreamOrDevice s = {});  // flattened

// mode "constant" (pad_value, a scalar) or "edge". One (low, high) pair per entry of axes.
array pad(const array& a, const std::vector<int>& axes, const Shape& low_pad, const Shape& high_pad,
          const array& pad_value = array(0), const std::string& mode = "constant", StreamOrDevice s = {});
// One (low, high) per axis, or a single pair / width for every axis.
array pad(const array& a, const std::vector<std::pair<int, int>>& pad_width, const array& pad_value = array(0),
          const std::string& mode = "constant", StreamOrDevice s = {});
array pad(const array& a, const std::pair<int, int>& pad_width, const array& pad_value = array(0),
          const std::string& mode = "constant", StreamOrDevice s = {});
array pad(const array& a, int pad_width, const array& pad_value = array(0), const std::string& mode = "constant",
          StreamOrDevice s = {});

// Elements shifted forward along axes (wrapping); without axes, over the flattened array.
array roll(const array& a, int shift, StreamOrDevice s = {});
array roll(const array& a, int shift, int axis, StreamOrDevice s = {});
array roll(const array& a, int shift, const std::vector<int>& axes, StreamOrDevice s = {});
array roll(const array& a, const Shape& shift, const std::vector<int>& axes, StreamOrDevice s = {});

// a (n) -> (n+|k|, n+|k|) with a on diagonal k; a (m, n) -> its diagonal k.
array diag(const array& a, int k = 0, StreamOrDevice s = {});
// The diagonal of the (axis1, axis2) planes, appended as the last axis (a view).
array diagonal(const array& a, int offset = 0, int axis1 = 0, int axis2 = 1, StreamOrDevice s = {});
// a (..., m, n): zeros above (tril) / below (triu) diagonal k.
array tril(const array& a, int k = 0, StreamOrDevice s = {});
array triu(const array& a, int k = 0, StreamOrDevice s = {});

// Reverses the order of elements along axes (all axes when empty); a view.
array flip(const array& a, const std::vector<int>& axes, StreamOrDevice s = {});
array flip(const array& a, StreamOrDevice s = {});

}  // namespace tessera
