// A tiny kernel compiled in every CUDA build so nvcc and the sm_80..sm_90 targets are exercised
// by CI even before the CUDA backend's kernels land.
#include <cuda_runtime.h>

namespace tessera::cuda {

__global__ void fill_kernel(float* out, float value, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = value;
}

}  // namespace tessera::cuda
