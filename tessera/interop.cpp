// adopt_device_memory: device buffers of other frameworks as tessera arrays.
#include "tessera/interop.h"

#include <stdexcept>

#include "tessera/backend/gpu.h"
#include "tessera/ops.h"

namespace tessera {

array adopt_device_memory(void* device_ptr, Shape shape, Dtype dtype, std::function<void()> release) {
#ifdef TESSERA_CUDA
  size_t n = shape_size(shape) * dtype.size;  // validates the shape before anything is adopted
  if (n == 0) {
    release();
    return zeros(shape, dtype, Device::gpu);
  }
  if (!device_ptr) throw std::invalid_argument("[adopt_device_memory] null device pointer.");
  // An unevaluated node without a primitive, given its data below and marked available.
  array out(std::move(shape), dtype, nullptr, {});
  out.set_device_data(device_ptr);
  // A host deleter marks the buffer foreign (never donated to a kernel); it frees the host copy
  // that a host read allocates.
  out.data_shared_ptr()->deleter = [n](void* host) {
    if (host) allocator::free({host, n});
  };
  gpu::adopt(device_ptr, std::move(release));
  out.set_status(array::Status::available);
  return out;
#else
  (void)device_ptr, (void)shape, (void)dtype, (void)release;
  throw std::runtime_error("[gpu] tessera was built without CUDA.");
#endif
}

}  // namespace tessera
