// eval_gpu of arange, random bits (Threefry on the device, key read there: no host sync) and
// categorical sampling.
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

void Categorical::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  const array& logits = inputs[1];
  if (logits.dtype() != float32 || logits.ndim() > kMaxDims || logits.ndim() == 0) {
    return Primitive::eval_gpu(inputs, outputs);
  }
  array bits = contiguous_gpu(inputs[0], uint32);
  void* o = alloc_out(out);
  CategoricalArgs a{};
  a.bits = static_cast<const uint32_t*>(bits.device_data());
  a.logits = static_cast<const float*>(logits.device_data());
  a.out = static_cast<uint32_t*>(o);
  a.ndim = logits.ndim();
  a.axis = axis_;
  a.inner = 1;
  for (int d = 0; d < a.ndim; ++d) {
    a.full[d] = logits.shape(d);
    a.lstrides[d] = logits.strides()[d];
    if (d > axis_) a.inner *= logits.shape(d);
  }
  a.n = logits.shape(axis_);
  a.nout = static_cast<int64_t>(out.size());
  categorical(a, current_stream());
}

}  // namespace random

}  // namespace tessera
