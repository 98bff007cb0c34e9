// Built when CUDA is off: the GPU is never available and every primitive runs on the CPU.
#include "tessera/backend/gpu_available.h"

namespace tessera {
bool gpu_is_available() { return false; }
}  // namespace tessera
