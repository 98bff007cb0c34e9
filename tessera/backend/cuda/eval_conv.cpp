// eval_gpu of Convolution: cuDNN's forward convolution (f32/f16/bf16, 1-3 spatial dims); what it
// cannot run (float64, more spatial dims, no cuDNN, TESSERA_CUDNN=0) runs on the CPU.
#include "tessera/backend/cuda/cudnn.h"
#include "tessera/backend/cuda/eval_utils.h"
#include "tessera/primitives/conv.h"

namespace tessera {

using namespace cuda;

void Convolution::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  Dtype d = out.dtype();
  const int nsp = static_cast<int>(stride_.size());
  bool ok = (d == float32 || d == float16 || d == bfloat16) && inputs[0].dtype() == d && inputs[1].dtype() == d &&
            nsp >= 1 && nsp <= 3 && inputs[0].ndim() == nsp + 2 && inputs[1].ndim() == nsp + 2 && out.size() > 0 &&
            inputs[1].size() > 0 && cudnn_available();
  if (!ok) return Primitive::eval_gpu(inputs, outputs);
  // x (N, *in, Cin), w (Cout, *kernel, Cin / groups), out (N, *out, Cout)
  array x = contiguous_gpu(inputs[0], d);
  array w = contiguous_gpu(inputs[1], d);
  CudnnConvArgs a;
  a.nsp = nsp;
  a.N = x.shape(0);
  a.Cin = x.shape(-1);
  a.Cout = out.shape(-1);
  a.groups = groups_;
  for (int i = 0; i < nsp; ++i) {
    a.in[i] = x.shape(i + 1);
    a.kernel[i] = w.shape(i + 1);
    a.out[i] = out.shape(i + 1);
    a.stride[i] = stride_[i];
    a.padding[i] = padding_[i];
    a.dilation[i] = dilation_[i];
  }
  a.x = x.device_data();
  a.w = w.device_data();
  size_t n = out.nbytes();
  void* y = gpu::malloc(n);
  a.y = y;
  bool ran = false;
  try {
    ran = cudnn_conv(dt(d), a, current_stream());
  } catch (...) {
    gpu::free(y, n);
    throw;
  }
  if (!ran) {
    gpu::free(y, n);
    return Primitive::eval_gpu(inputs, outputs);
  }
  out.set_device_data(y);
}

}  // namespace tessera
