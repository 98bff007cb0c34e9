// Helpers of the eval_gpu implementations: dtype codes, device outputs, collapsed strides,
// contiguous device copies and scalars read from the host.
#pragma once

#include <vector>

#include "tessera/array.h"
#include "tessera/backend/cuda/kernels.h"
#include "tessera/backend/cuda/runtime.h"
#include "tessera/backend/gpu.h"

namespace tessera::cuda {

inline int dt(Dtype d) { return static_cast<int>(d.val); }

// Gives `out` a fresh device buffer (row-contiguous); returns its device pointer.
inline void* alloc_out(array& out) {
  out.set_device_data(gpu::malloc(out.nbytes()));
  return out.device_data();
}

// Dims of `shape` merged where every operand's strides allow it (row-major order kept), size-1
// dims dropped: sh (the merged shape) and st (per operand, the merged strides).
void collapse_dims(const Shape& shape, const std::vector<const Strides*>& strides, std::vector<int64_t>& sh,
                   std::vector<std::vector<int64_t>>& st);

// Iteration space over `shape` with one stride vector per operand, dims merged where every
// operand allows it and size-1 dims dropped. Returns false when more than kMaxDims remain.
bool make_strided(const Shape& shape, const std::vector<const Strides*>& strides, Strided& s);

// A row-contiguous device array of `in`'s values in dtype `d` (in itself when it already is one).
array contiguous_gpu(const array& in, Dtype d);

// Copies src (any layout) into dst's memory at element offset `dst_offset` with dst strides.
void copy_into(const array& src, void* dst_base, Dtype dst_dtype, const Strides& dst_strides, int64_t dst_offset);

// out gets src's values row-contiguously (converted to out's dtype): src's own buffer when it can
// be donated (the caller then writes into it and calls out.mark_device_written()). Returns out's pointer.
void* copy_or_donate_gpu(const array& src, array& out);

// The value of a one-element (data_size 1) array whose host copy is valid, as double.
bool host_scalar(const array& a, double* v);

}  // namespace tessera::cuda
