// eval_gpu of arange and random bits (Threefry on the device, key read there: no host sync).
#include "tessera/backend/cuda/eval_utils.h"
#include "tessera/backend/cuda/kernels_random.h"
#include "tessera/primitives/creation.h"
#include "tessera/primitives/random.h"

namespace tessera {

using namespace cuda;

void Arange::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  if (!arange_supported(dt(out.dtype()))) return Primitive::eval_gpu(inputs, outputs);
  void* o = alloc_out(out);
  arange(dt(out.dtype()), start_, step_, o, out.size(), current_stream());
}

namespace random {

void RandomBits::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  array k = contiguous_gpu(inputs[0], uint32);
  void* o = alloc_out(out);
  random_bits(static_cast<const uint32_t*>(k.device_data()), o, out.nbytes(), current_stream());
}

}  // namespace random

}  // namespace tessera
