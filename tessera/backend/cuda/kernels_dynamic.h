// Launcher of the CUDA dynamic-slice kernel (dynamic_slice.cu): a strided copy whose start offset
// along some axes is read from a device array inside the kernel (no host sync, graph-capturable).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "tessera/backend/cuda/kernels.h"

namespace tessera::cuda {

// dst[i (dst_strides)] = src[i (src_strides)] over `shape`, one side shifted by the clamped start:
// start[k] (integer dtype start_dt, element stride start_stride) along axes[k] of the `full` shape,
// negatives wrapped, clamped to [0, full[ax] - shape[ax]] (as the CPU's dynamic_slice).
struct DynamicCopyArgs {
  int ndim{0};
  int64_t shape[kMaxDims]{}, src_strides[kMaxDims]{}, dst_strides[kMaxDims]{}, full[kMaxDims]{};
  int naxes{0};
  int axes[kMaxDims]{};
  const void* start{nullptr};
  int start_dt{0};
  int64_t start_stride{1};
  bool shift_src{true};  // dynamic_slice: the source is shifted; dynamic_slice_update: the destination
};
void dynamic_copy(const void* src, void* dst, int elem_size, const DynamicCopyArgs& a, size_t n, cudaStream_t st);

}  // namespace tessera::cuda
