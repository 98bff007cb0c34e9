// eval_gpu of the quantization primitives: affine quantize / dequantize / quantized_matmul and GGUF
// matmul / dequantize on device buffers (row-contiguous, 16-byte aligned copies where needed).
#include <cstdint>

#include "tessera/backend/cuda/eval_utils.h"
#include "tessera/backend/cuda/kernels_quantized.h"
#include "tessera/primitives/quantized.h"

namespace tessera {

using namespace cuda;

namespace {

bool is_float(Dtype d) { return d == float32 || d == float16 || d == bfloat16; }

// A row-contiguous device copy of `in` in dtype d whose data is 16-byte aligned (the kernels use
// 16-byte loads); `in` itself when it already is one.
array aligned_gpu(const array& in, Dtype d) {
  array c = contiguous_gpu(in, d);
  if (c.size() == 0 || reinterpret_cast<uintptr_t>(c.device_data()) % 16 == 0) return c;
  array out(c.shape(), d, nullptr, {});
  void* p = alloc_out(out);
  TESSERA_CUDA_CHECK(cudaMemcpyAsync(p, c.device_data(), c.nbytes(), cudaMemcpyDeviceToDevice, current_stream()));
  return out;
}

}  // namespace

void AffineQuantize::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  Dtype d = inputs[0].dtype();
  if (!is_float(d) || outputs[1].dtype() != d || inputs[0].ndim() != 2) return Primitive::eval_gpu(inputs, outputs);
  array w = aligned_gpu(inputs[0], d);
  auto* wq = static_cast<uint32_t*>(alloc_out(outputs[0]));
  void* s = alloc_out(outputs[1]);
  void* b = alloc_out(outputs[2]);
  affine_quantize(dt(d), w.device_data(), wq, s, b, w.shape(0), w.shape(1), group_size_, bits_, current_stream());
}

void AffineDequantize::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  Dtype d = out.dtype();
  if (!is_float(d) || inputs[0].dtype() != uint32 || inputs[1].dtype() != d || inputs[2].dtype() != d ||
      out.ndim() != 2) {
    return Primitive::eval_gpu(inputs, outputs);
  }
  array wq = aligned_gpu(inputs[0], uint32), s = contiguous_gpu(inputs[1], d), b = contiguous_gpu(inputs[2], d);
  void* o = alloc_out(out);
  affine_dequantize(dt(d), static_cast<const uint32_t*>(wq.device_data()), s.device_data(), b.device_data(), o,
                    out.shape(0), out.shape(1), group_size_, bits_, current_stream());
}

void QuantizedMatmul::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  Dtype d = out.dtype();
  if (!is_float(d) || inputs[0].dtype() != d || inputs[1].dtype() != uint32 || inputs[2].dtype() != d ||
      inputs[3].dtype() != d || out.ndim() != 2 || inputs[0].ndim() != 2) {
    return Primitive::eval_gpu(inputs, outputs);
  }
  int64_t M = out.shape(0), N = out.shape(1), K = inputs[0].shape(1);
  void* o = alloc_out(out);
  if (M == 0 || N == 0) return;
  if (K == 0) {
    TESSERA_CUDA_CHECK(cudaMemsetAsync(o, 0, out.nbytes(), current_stream()));
    return;
  }
  array x = aligned_gpu(inputs[0], d), wq = aligned_gpu(inputs[1], uint32), s = contiguous_gpu(inputs[2], d),
        b = contiguous_gpu(inputs[3], d);
  AffineWeight w{static_cast<const uint32_t*>(wq.device_data()), s.device_data(), b.device_data(), bits_,
                 group_size_, transpose_};
  size_t ws_n = affine_qmm_workspace(dt(d), transpose_, M, N);
  array ws = x;
  float* wsp = nullptr;
  if (ws_n) {
    ws = array({static_cast<ShapeElem>(ws_n)}, float32, nullptr, {});
    wsp = static_cast<float*>(alloc_out(ws));
  }
  affine_qmm(dt(d), w, x.device_data(), o, wsp, M, N, K, current_stream());
}

void GGUFMatmul::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  if (out.dtype() != float32 || inputs[1].dtype() != uint8 || out.ndim() != 2 || inputs[0].ndim() != 2 ||
      !gguf_gpu_supported(static_cast<int>(type_))) {
    return Primitive::eval_gpu(inputs, outputs);
  }
  int64_t M = out.shape(0), N = out.shape(1), K = inputs[0].shape(1);
  void* o = alloc_out(out);
  if (M == 0 || N == 0) return;
  array x = aligned_gpu(inputs[0], float32), w = aligned_gpu(inputs[1], uint8);
  gguf_qmm(static_cast<int>(type_), static_cast<const float*>(x.device_data()),
           static_cast<const uint8_t*>(w.device_data()), static_cast<float*>(o), M, N, K, current_stream());
}

void GGUFDequantize::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  if (out.dtype() != float32 || inputs[0].dtype() != uint8 || out.ndim() != 2 ||
      !gguf_gpu_supported(static_cast<int>(type_))) {
    return Primitive::eval_gpu(inputs, outputs);
  }
  array b = aligned_gpu(inputs[0], uint8);
  void* o = alloc_out(out);
  cuda::gguf_dequantize(static_cast<int>(type_), static_cast<const uint8_t*>(b.device_data()),
                        static_cast<float*>(o), out.shape(0), out.shape(1), current_stream());
}

}  // namespace tessera
