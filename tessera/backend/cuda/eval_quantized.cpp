// eval_gpu of the quantization primitives: affine quantize / dequantize / quantized_matmul and GGUF
// matmul / dequantize on device buffers (row-contiguous, 16-byte aligned copies where needed).
#include <array>
#include <cstdint>
#include <vector>

#include "tessera/backend/cuda/eval_utils.h"
#include "tessera/backend/cuda/kernels_quantized.h"
#include "tessera/backend/cuda/kernels_quantized_batched.h"
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

// `in` itself when its last two dims are row-contiguous (any batch strides), else a row-contiguous copy.
array rows_contiguous_gpu(const array& in, Dtype d) {
  const int nd = in.ndim();
  bool ok = in.dtype() == d && in.strides(nd - 1) == 1 && (in.shape(nd - 2) <= 1 || in.strides(nd - 2) == in.shape(nd - 1));
  return ok ? in : contiguous_gpu(in, d);
}

bool aligned16(const void* p, int64_t elems, size_t itemsize) {
  return (reinterpret_cast<uintptr_t>(p) + static_cast<uintptr_t>(elems * static_cast<int64_t>(itemsize))) % 16 == 0;
}

// out (batch..., M, N) of a batched QuantizedMatmul: one launch over every batch entry (strided batch
// dims, size 1 broadcast); more than kQuantGemvMaxRows rows with 16-byte aligned matrices take
// affine_qmm (tensor-core GEMM) per entry instead.
void batched_quantized_matmul(const std::vector<array>& inputs, array& out, bool transpose, int group_size, int bits) {
  Dtype d = out.dtype();
  const int nd = out.ndim(), nb = nd - 2;
  int64_t M = out.shape(-2), N = out.shape(-1), K = inputs[0].shape(-1);
  void* o = alloc_out(out);
  if (out.size() == 0) return;
  if (K == 0) {
    TESSERA_CUDA_CHECK(cudaMemsetAsync(o, 0, out.nbytes(), current_stream()));
    return;
  }
  array x = rows_contiguous_gpu(inputs[0], d), wq = rows_contiguous_gpu(inputs[1], uint32),
        s = rows_contiguous_gpu(inputs[2], d), b = rows_contiguous_gpu(inputs[3], d);
  const std::vector<const array*> ops{&x, &wq, &s, &b};
  std::vector<Strides> bs(4, Strides(nb));
  Shape batch(out.shape().begin(), out.shape().end() - 2);
  for (int k = 0; k < 4; ++k) {
    for (int i = 0; i < nb; ++i) bs[k][i] = ops[k]->shape(i) == 1 ? 0 : ops[k]->strides(i);
  }
  std::vector<int64_t> sh;
  std::vector<std::vector<int64_t>> st;
  collapse_dims(batch, {&bs[0], &bs[1], &bs[2], &bs[3]}, sh, st);
  if (sh.size() > static_cast<size_t>(kMaxDims)) {
    throw std::invalid_argument("[quantized_matmul] too many non-mergeable batch dimensions on the GPU.");
  }
  QBatch qb;
  qb.ndim = static_cast<int>(sh.size());
  for (int i = 0; i < qb.ndim; ++i) {
    qb.shape[i] = sh[i];
    qb.count *= sh[i];
    for (int k = 0; k < 4; ++k) qb.strides[k][i] = st[k][i];
  }
  AffineWeight w{static_cast<const uint32_t*>(wq.device_data()), s.device_data(), b.device_data(), bits, group_size,
                 transpose};
  const size_t isz = d.size;
  if (M > kQuantGemvMaxRows) {
    // Host offsets of every entry; all 16-byte aligned: one affine_qmm per entry.
    std::vector<std::array<int64_t, 4>> offs(static_cast<size_t>(qb.count));
    bool aligned = reinterpret_cast<uintptr_t>(o) % 16 == 0 && (M * N * static_cast<int64_t>(isz)) % 16 == 0;
    for (int64_t z = 0; z < qb.count; ++z) {
      int64_t rem = z;
      std::array<int64_t, 4> off{0, 0, 0, 0};
      for (int i = qb.ndim - 1; i >= 0; --i) {
        for (int k = 0; k < 4; ++k) off[k] += (rem % qb.shape[i]) * qb.strides[k][i];
        rem /= qb.shape[i];
      }
      aligned = aligned && aligned16(x.device_data(), off[0], isz) && aligned16(w.w, off[1], 4) &&
                aligned16(w.scales, off[2], isz) && aligned16(w.biases, off[3], isz);
      offs[static_cast<size_t>(z)] = off;
    }
    if (aligned) {
      for (int64_t z = 0; z < qb.count; ++z) {
        const auto& off = offs[static_cast<size_t>(z)];
        AffineWeight wz{w.w + off[1], static_cast<const char*>(w.scales) + off[2] * isz,
                        static_cast<const char*>(w.biases) + off[3] * isz, bits, group_size, transpose};
        affine_qmm(dt(d), wz, static_cast<const char*>(x.device_data()) + off[0] * isz,
                   static_cast<char*>(o) + z * M * N * isz, nullptr, M, N, K, current_stream());
      }
      return;
    }
  }
  size_t ws_n = batched_qmm_workspace(transpose, qb, M, N, K);
  array ws = x;
  float* wsp = nullptr;
  if (ws_n) {
    ws = array({static_cast<ShapeElem>(ws_n)}, float32, nullptr, {});
    wsp = static_cast<float*>(alloc_out(ws));
  }
  batched_qmm(dt(d), w, qb, x.device_data(), o, wsp, M, N, K, current_stream());
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
      inputs[3].dtype() != d || out.ndim() < 2 || inputs[0].ndim() != out.ndim() || inputs[1].ndim() != out.ndim()) {
    return Primitive::eval_gpu(inputs, outputs);
  }
  if (out.ndim() > 2) return batched_quantized_matmul(inputs, out, transpose_, group_size_, bits_);
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
