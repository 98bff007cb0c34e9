// Ops that reshape, broadcast, transpose, slice and cast arrays (mostly views).
#pragma once

#include <vector>

#include "tessera/array.h"
#include "tessera/device.h"

namespace tessera {

array astype(const array& a, Dtype dtype, StreamOrDevice s = {});
array copy(const array& a, StreamOrDevice s = {});
array contiguous(const array& a, StreamOrDevice s = {});  // row-major copy unless already so

array reshape(const array& a, Shape shape, StreamOrDevice s = {});  // one -1 dimension allowed
array flatten(const array& a, int start_axis = 0, int end_axis = -1, StreamOrDevice s = {});
array squeeze(const array& a, const std::vector<int>& axes, StreamOrDevice s = {});
array squeeze(const array& a, StreamOrDevice s = {});
array expand_dims(const array& a, const std::vector<int>& axes, StreamOrDevice s = {});
array expand_dims(const array& a, int axis, StreamOrDevice s = {});

array broadcast_to(const array& a, const Shape& shape, StreamOrDevice s = {});
std::vector<array> broadcast_arrays(const std::vector<array>& inputs, StreamOrDevice s = {});

array transpose(const array& a, std::vector<int> axes, StreamOrDevice s = {});
array transpose(const array& a, StreamOrDevice s = {});  // reverses the axes
array swapaxes(const array& a, int axis1, int axis2, StreamOrDevice s = {});
array moveaxis(const array& a, int source, int destination, StreamOrDevice s = {});

// NumPy basic slicing: start/stop are clamped like Python slices; negative values count from the end.
array slice(const array& a, Shape start, Shape stop, Shape strides, StreamOrDevice s = {});
array slice(const array& a, const Shape& start, const Shape& stop, StreamOrDevice s = {});
array as_strided(const array& a, Shape shape, Strides strides, int64_t offset = 0, StreamOrDevice s = {});

}  // namespace tessera
