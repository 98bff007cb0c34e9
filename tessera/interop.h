// Arrays over memory owned by another framework (DLPack imports on the GPU).
#pragma once

#include <functional>

#include "tessera/array.h"

namespace tessera {

// A row-contiguous, evaluated array (shape, dtype) over `device_ptr`, device memory owned by
// someone else (e.g. a torch.cuda tensor): its valid copy lives on the GPU; a host read makes a
// host copy. release() runs once no array uses the memory any more and the GPU has finished all
// queued work; kernels never take the memory as their output (no donation). CUDA builds only:
// throws "[gpu] ..." without CUDA.
array adopt_device_memory(void* device_ptr, Shape shape, Dtype dtype, std::function<void()> release);

}  // namespace tessera
