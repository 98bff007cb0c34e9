// eval_gpu of fast::layer_norm (weight and bias read as float32, like the CPU's accumulation type).
#include "tessera/backend/cuda/eval_utils.h"
#include "tessera/backend/cuda/kernels_layer_norm.h"
#include "tessera/primitives/fast.h"

namespace tessera::fast {

using namespace cuda;

void LayerNorm::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  Dtype d = out.dtype();
  bool ok = (d == float32 || d == float16 || d == bfloat16) && inputs[0].dtype() == d && inputs[0].ndim() >= 1 &&
            inputs[0].ndim() <= kMaxDims;
  if (ok) {
    int64_t D = inputs[0].shape(-1);
    ok = D > 0 && D < (int64_t(1) << 31) && inputs[0].size() / D < 0x7fffffffu;
  }
  for (size_t i = 1; i < inputs.size() && ok; ++i) ok = copy_supported(dt(inputs[i].dtype()), dt_f32);
  if (!ok) return Primitive::eval_gpu(inputs, outputs);
  array x = contiguous_gpu(inputs[0], d);
  int next = 1;
  array w = x, b = x;
  const float* wp = nullptr;
  const float* bp = nullptr;
  if (has_weight_) {
    w = contiguous_gpu(inputs[next++], float32);
    wp = static_cast<const float*>(w.device_data());
  }
  if (has_bias_) {
    b = contiguous_gpu(inputs[next++], float32);
    bp = static_cast<const float*>(b.device_data());
  }
  void* o = alloc_out(out);
  int D = x.shape(-1);
  layer_norm(dt(d), x.device_data(), wp, bp, o, x.size() / D, D, eps_, current_stream());
}

}  // namespace tessera::fast
