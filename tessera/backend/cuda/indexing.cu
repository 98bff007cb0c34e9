// CUDA gather (take / embedding rows): one thread per output element, indices wrap when negative.
#include "tessera/backend/cuda/kernels/common.cuh"

namespace tessera::cuda {

namespace {

template <typename E>
__global__ void gather_kernel(GatherArgs a) {
  int64_t n = static_cast<int64_t>(a.n_idx * a.slice_size);
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < n; t += int64_t(gridDim.x) * blockDim.x) {
    int64_t ii = t / a.slice_size, j = t % a.slice_size;
    int64_t off = 0;
    // Slice position (row-major over slice sizes).
    for (int d = a.ndim - 1; d >= 0; --d) {
      int64_t sz = a.slice[d];
      off += (j % sz) * a.src_strides[d];
      j /= sz;
    }
    for (int k = 0; k < a.naxes; ++k) {
      int ax = a.axes[k];
      int64_t v = a.idx[k][ii];
      if (v < 0) v += a.src_shape[ax];
      off += v * a.src_strides[ax];
    }
    static_cast<E*>(a.out)[t] = static_cast<const E*>(a.src)[off];
  }
}

}  // namespace

void gather(const GatherArgs& a, cudaStream_t st) {
  size_t n = a.n_idx * a.slice_size;
  if (n == 0) return;
  switch (a.elem_size) {
    case 1: gather_kernel<uint8_t><<<blocks_for(n, 256), 256, 0, st>>>(a); break;
    case 2: gather_kernel<uint16_t><<<blocks_for(n, 256), 256, 0, st>>>(a); break;
    case 4: gather_kernel<uint32_t><<<blocks_for(n, 256), 256, 0, st>>>(a); break;
    default: gather_kernel<uint64_t><<<blocks_for(n, 256), 256, 0, st>>>(a); break;
  }
  TESSERA_KERNEL_CHECK();
}

}  // namespace tessera::cuda
