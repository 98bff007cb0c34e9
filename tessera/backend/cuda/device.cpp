// CUDA device discovery: the GPU is available when the runtime reports at least one device.
// Primitives without a GPU kernel yet run their CPU implementation on host memory (see DESIGN.md).
#include <cuda_runtime.h>

#include <cstdlib>

#include "tessera/backend/gpu_available.h"

namespace tessera {

bool gpu_is_available() {
  static const bool available = [] {
    if (const char* env = std::getenv("TESSERA_DISABLE_GPU"); env && *env && *env != '0') return false;
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      cudaGetLastError();  // clear the sticky error; no driver/device means CPU only
      return false;
    }
    return n > 0;
  }();
  return available;
}

}  // namespace tessera
