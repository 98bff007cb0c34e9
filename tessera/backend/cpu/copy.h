// Copying and casting strided data into fresh buffers on the CPU.
#pragma once

#include "tessera/array.h"

namespace tessera::cpu {

// out gets a fresh row-contiguous buffer holding `in`'s values converted to out.dtype().
void copy_to_contiguous(const array& in, array& out);
// Writes `in` (converted to dst's dtype) into dst's existing buffer at the positions given by
// dst_strides/dst_offset (elements), iterating over `in`'s logical shape.
void copy_strided_into(const array& in, array& dst, const Strides& dst_strides, int64_t dst_offset);
// Gives `out` the same values as `in`: shares the buffer when `in` is row-contiguous and the
// dtypes agree, else copies.
void make_contiguous(const array& in, array& out);

}  // namespace tessera::cpu
