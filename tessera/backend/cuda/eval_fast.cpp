// eval_gpu of the fast ops: rms_norm, rope (offsets read on the device) and attention (strided
// q/k/v such as KV-cache slices are read in place; split-K decode, cuDNN or tensor-core prefill, or generic).

#include "tessera/backend/cuda/cudnn.h"
#include "tessera/backend/cuda/eval_utils.h"
#include "tessera/backend/cuda/kernels_attention.h"
#include "tessera/env.h"
#include "tessera/primitives/fast.h"
#include "tessera/profiler.h"

namespace tessera::fast {

using namespace cuda;

namespace {
bool is_float(Dtype d) { return d == float32 || d == float16 || d == bfloat16; }
}  // namespace

void RMSNorm::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  Dtype d = out.dtype();
  if (!is_float(d) || inputs[0].dtype() != d || inputs[0].ndim() > kMaxDims) return Primitive::eval_gpu(inputs, outputs);
  array x = contiguous_gpu(inputs[0], d);
  array w = x;
  bool w_f32 = false;
  const void* wp = nullptr;
  if (has_weight_) {
    w_f32 = inputs[1].dtype() != d;
    w = contiguous_gpu(inputs[1], w_f32 ? float32 : d);
    wp = w.device_data();
  }
  void* o = alloc_out(out);
  int D = x.ndim() ? x.shape(-1) : 1;
  rms_norm(dt(d), x.device_data(), wp, w_f32, o, D ? x.size() / D : 0, D, eps_, current_stream());
}

void RoPE::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  Dtype d = out.dtype();
  if (!is_float(d) || inputs[0].dtype() != d || inputs[0].ndim() < 2 || inputs[0].ndim() > kMaxDims) {
    return Primitive::eval_gpu(inputs, outputs);
  }
  array x = contiguous_gpu(inputs[0], d);
  array off = contiguous_gpu(inputs[1], int32);
  array f = off;
  const float* fp = nullptr;
  if (has_freqs_) {
    f = contiguous_gpu(inputs[2], float32);
    fp = static_cast<const float*>(f.device_data());
  }
  void* o = alloc_out(out);
  if (out.size() == 0) return;
  int D = x.shape(-1), L = x.shape(-2);
  size_t rows = x.size() / D;
  // Dims past `dims` pass through: copy everything first when they exist.
  if (dims_ < D) {
    TESSERA_CUDA_CHECK(cudaMemcpyAsync(o, x.device_data(), out.nbytes(), cudaMemcpyDeviceToDevice, current_stream()));
  }
  rope(dt(d), x.device_data(), o, rows, L, D, dims_, traditional_, base_, scale_,
       static_cast<const int32_t*>(off.device_data()), static_cast<int>(off.size()), fp, current_stream());
}

void ScaledDotProductAttention::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  Dtype d = out.dtype();
  const array& q0 = inputs[0];
  bool ok = is_float(d) && q0.ndim() == 4 && inputs[1].dtype() == d && inputs[2].dtype() == d && q0.dtype() == d &&
            sdpa_supported(dt(d), q0.shape(3), inputs[2].shape(3));
  if (ok && has_mask_) ok = inputs[3].ndim() == 4;
  if (!ok) return Primitive::eval_gpu(inputs, outputs);
  auto last_unit = [&](const array& a) { return a.shape(3) == 1 || a.strides()[3] == 1 ? a : contiguous_gpu(a, d); };
  array q = last_unit(inputs[0]), k = last_unit(inputs[1]), v = last_unit(inputs[2]);
  array m = q;
  SdpaArgs a{};
  if (has_mask_) {
    m = inputs[3].dtype() == bool_ || inputs[3].dtype() == float32 ? inputs[3] : contiguous_gpu(inputs[3], float32);
    a.mask = m.device_data();
    a.mask_dt = dt(m.dtype());
    for (int i = 0; i < 4; ++i) a.ms[i] = m.shape(i) == 1 ? 0 : m.strides()[i];
  }
  void* o = alloc_out(out);
  if (out.size() == 0) return;
  a.q = q.device_data();
  a.k = k.device_data();
  a.v = v.device_data();
  a.out = o;
  for (int i = 0; i < 4; ++i) {
    a.qs[i] = q.strides()[i];
    a.ks[i] = k.strides()[i];
    a.vs[i] = v.strides()[i];
  }
  a.B = q.shape(0);
  a.Hq = q.shape(1);
  a.Lq = q.shape(2);
  a.D = q.shape(3);
  a.Hkv = k.shape(1);
  a.Lk = k.shape(2);
  a.Dv = v.shape(3);
  a.scale = scale_;
  a.causal = causal_;
  // Few query rows: split-K decode (scratch from the device pool, freed in stream order); longer
  // f16/bf16 queries: cuDNN's flash attention where it runs the case (cudnn.h), else the tensor-core
  // kernel; anything else: the generic one.
  // TESSERA_SDPA_DECODE=0: few query rows take the paths below (for comparisons).
  static const bool decode_on = env_switch_on("TESSERA_SDPA_DECODE");
  if (decode_on && sdpa_decode_supported(dt(d), a)) {
    size_t n = sdpa_decode_scratch_bytes(dt(d), a);
    void* scratch = gpu::malloc(n);
    try {
      sdpa_decode(dt(d), a, scratch, current_stream());
    } catch (...) {
      gpu::free(scratch, n);
      throw;
    }
    gpu::free(scratch, n);
    return;
  }
  bool ran = false;
  {
    profiler::Scope ps("(sdpa: cuDNN, incl. declined tries)");
    ran = cudnn_sdpa(dt(d), a, current_stream());
  }
  if (ran) return;
  if (sdpa_flash_supported(dt(d), a)) {
    sdpa_flash(dt(d), a, current_stream());
  } else {
    sdpa(dt(d), a, current_stream());
  }
}

}  // namespace tessera::fast
