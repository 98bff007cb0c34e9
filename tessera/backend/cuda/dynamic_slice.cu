// CUDA dynamic slice / slice update: every thread reads the start indices from device memory and
// clamps them like the CPU, then copies its elements (grid-stride, any element size).
#include "tessera/backend/cuda/kernels/dtypes.cuh"
#include "tessera/backend/cuda/kernels_dynamic.h"
#include "tessera/backend/cuda/runtime.h"

namespace tessera::cuda {

namespace {

template <typename E>
__global__ void dynamic_copy_kernel(const E* src, E* dst, DynamicCopyArgs a, int64_t n) {
  int64_t shift = 0;
  for (int k = 0; k < a.naxes; ++k) {
    int ax = a.axes[k];
    int64_t len = a.full[ax], v = load_index(a.start, a.start_dt, k * a.start_stride);
    int64_t s = v < 0 ? v + len : v;
    int64_t hi = len - a.shape[ax];
    s = s < 0 ? 0 : (s > hi ? hi : s);
    shift += s * (a.shift_src ? a.src_strides[ax] : a.dst_strides[ax]);
  }
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t so = 0, d_o = 0, rem = i;
    for (int d = a.ndim - 1; d >= 0; --d) {
      int64_t c = rem % a.shape[d];
      rem /= a.shape[d];
      so += c * a.src_strides[d];
      d_o += c * a.dst_strides[d];
    }
    if (a.shift_src) so += shift;
    else d_o += shift;
    dst[d_o] = src[so];
  }
}

}  // namespace

void dynamic_copy(const void* src, void* dst, int elem_size, const DynamicCopyArgs& a, size_t n, cudaStream_t st) {
  if (n == 0) return;
  dispatch_size(elem_size, [&](auto t) {
    using E = decltype(t);
    dynamic_copy_kernel<E><<<blocks_for(n, 256), 256, 0, st>>>(static_cast<const E*>(src), static_cast<E*>(dst), a,
                                                               static_cast<int64_t>(n));
    TESSERA_CUDA_LAUNCH_CHECK();
  });
}

}  // namespace tessera::cuda
