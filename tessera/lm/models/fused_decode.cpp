// Fused GPU kernels of Llama's static decode step, written as fast::cuda_kernel sources (NVRTC):
// residual add + RMSNorm (one block a row) and the gated activation on a stacked gate/up product.
#include "tessera/lm/models/fused_decode.h"

#include <cstring>
#include <stdexcept>
#include <string>

#include "tessera/backend/gpu.h"
#include "tessera/device.h"
#include "tessera/env.h"
#include "tessera/fast.h"

namespace tessera::lm {

namespace {

constexpr int kNormThreads = 256;

// Block sum of v over kNormThreads threads (all threads get the total).
const char* kHeader = R"(
__device__ __forceinline__ float block_sum_256(float v) {
  __shared__ float part[8];
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = v;
  __syncthreads();
  float t = 0.0f;
  for (int i = 0; i < 8; ++i) t += part[i];
  return t;
}
__device__ __forceinline__ float gelu_erf(float g) { return 0.5f * g * (1.0f + erff(g * 0.70710678118654752f)); }
__device__ __forceinline__ float gelu_tanh(float g) {
  return 0.5f * g * (1.0f + tanhf(0.7978845608028654f * (g + 0.044715f * g * g * g)));
}
)";

// One block of 256 threads per row of H values: h = x + a (stored, rounded to T), then the RMSNorm of
// the rounded h with float32 sums. EPS_BITS: the float eps's bits.
const char* kAddRmsNorm = R"(
  constexpr int PER = (H + 255) / 256;
  const long long base = static_cast<long long>(blockIdx.x) * H;
  float v[PER];
  float ss = 0.0f;
  for (int j = 0; j < PER; ++j) {
    const int c = threadIdx.x + j * 256;
    v[j] = 0.0f;
    if (c < H) {
      const T hv = T(static_cast<float>(x[base + c]) + static_cast<float>(a[base + c]));
      h[base + c] = hv;
      v[j] = static_cast<float>(hv);
      ss += v[j] * v[j];
    }
  }
  const float r = rsqrtf(block_sum_256(ss) / static_cast<float>(H) + __int_as_float(EPS_BITS));
  for (int j = 0; j < PER; ++j) {
    const int c = threadIdx.x + j * 256;
    if (c < H) n[base + c] = T(v[j] * r * static_cast<float>(w[c]));
  }
)";

// Thread i: output (r, c) = act(gu[r, c]) * gu[r, I + c] over ROWS x I values.
const char* kGated = R"(
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= static_cast<long long>(ROWS) * I) return;
  const long long r = i / I, c = i % I;
  const float g = static_cast<float>(gu[r * 2 * I + c]), u = static_cast<float>(gu[r * 2 * I + I + c]);
  const float act = ACT == 0 ? g / (1.0f + __expf(-g)) : ACT == 1 ? gelu_erf(g) : gelu_tanh(g);
  out[i] = T(act * u);
)";

const fast::CudaKernelFunction& add_rms_norm_kernel() {
  static const fast::CudaKernelFunction k =
      fast::cuda_kernel("tessera_add_rms_norm", {"x", "a", "w"}, {"h", "n"}, kAddRmsNorm, kHeader);
  return k;
}

const fast::CudaKernelFunction& gated_kernel() {
  static const fast::CudaKernelFunction k = fast::cuda_kernel("tessera_gated_activation", {"gu"}, {"out"}, kGated, kHeader);
  return k;
}

bool is_float(Dtype d) { return d == float32 || d == float16 || d == bfloat16; }

int rows_of(const array& t) {
  int64_t rows = 1;
  for (int i = 0; i + 1 < t.ndim(); ++i) rows *= t.shape(i);
  if (rows > (1 << 30)) throw std::invalid_argument("[fused_decode] too many rows.");
  return static_cast<int>(rows);
}

}  // namespace

bool fused_decode_available() {
  static const bool on = env_switch_on("TESSERA_FUSED_DECODE");
  return on && default_device().type == Device::gpu && gpu::jit_available();
}

std::pair<array, array> add_rms_norm(const array& x, const array& a, const array& w, float eps) {
  if (x.shape() != a.shape() || x.dtype() != a.dtype() || !is_float(x.dtype()) || x.ndim() < 1 ||
      w.ndim() != 1 || w.shape(0) != x.shape(-1) || !is_float(w.dtype())) {
    throw std::invalid_argument("[add_rms_norm] x and a must be float arrays of one shape and dtype, w (H,).");
  }
  const int H = x.shape(-1), rows = rows_of(x);
  int eps_bits = 0;
  std::memcpy(&eps_bits, &eps, sizeof(eps_bits));
  auto outs = add_rms_norm_kernel()({x, a, w}, {x.shape(), x.shape()}, {x.dtype(), x.dtype()},
                                    {rows * kNormThreads, 1, 1}, {kNormThreads, 1, 1},
                                    {{"T", x.dtype()}, {"H", H}, {"EPS_BITS", eps_bits}}, std::nullopt, false, {});
  return {outs[0], outs[1]};
}

array gated_activation_stacked(const array& gu, int act) {
  if (!is_float(gu.dtype()) || gu.ndim() < 1 || gu.shape(-1) % 2 != 0 || act < 0 || act > 2) {
    throw std::invalid_argument("[gated_activation_stacked] gu must be a float array (..., 2 I); act 0, 1 or 2.");
  }
  const int I = gu.shape(-1) / 2, rows = rows_of(gu);
  Shape out_shape = gu.shape();
  out_shape.back() = I;
  const int64_t n = static_cast<int64_t>(rows) * I;
  if (n > (int64_t(1) << 31) - 1) throw std::invalid_argument("[gated_activation_stacked] too many values.");
  return gated_kernel()({gu}, {out_shape}, {gu.dtype()}, {static_cast<int>(n), 1, 1}, {256, 1, 1},
                        {{"T", gu.dtype()}, {"I", I}, {"ROWS", rows}, {"ACT", act}}, std::nullopt, false, {})[0];
}

}  // namespace tessera::lm
