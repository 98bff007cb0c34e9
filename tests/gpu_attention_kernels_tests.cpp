// Launcher-level checks of the attention kernels (kernels_attention.h) that the public op cannot
// select: every tiling (variant) of the tensor-core kernel against float64; DISABLED_ kernel timings
// by CUDA events (no host overhead): tensor-core prefill per variant, split-K decode vs the generic kernel.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "attention_reference.h"
#include "tessera/backend/cuda/kernels_attention.h"
#include "gpu_test_utils.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::testing;

namespace {

class GpuAttentionKernels : public tessera::testing::GpuTest {};

// A cudaMalloc'ed buffer freed on scope exit.
struct DeviceBuffer {
  void* p = nullptr;
  explicit DeviceBuffer(size_t n) { EXPECT_EQ(cudaMalloc(&p, n), cudaSuccess); }
  ~DeviceBuffer() { cudaFree(p); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};

// Kernel arguments of evaluated GPU arrays q (B, Hq, Lq, D), k/v (B, Hkv, Lk, D); out contiguous.
cuda::SdpaArgs make_args(const array& q, const array& k, const array& v, void* out, float scale,
                         bool causal) {
  cuda::SdpaArgs a{};
  a.q = q.device_data();
  a.k = k.device_data();
  a.v = v.device_data();
  a.out = out;
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
  a.scale = scale;
  a.causal = causal;
  return a;
}

// n bfloat16 values from the device as doubles.
std::vector<double> bf16_from_device(const void* p, size_t n) {
  std::vector<uint16_t> raw(n);
  EXPECT_EQ(cudaMemcpy(raw.data(), p, n * 2, cudaMemcpyDeviceToHost), cudaSuccess);
  std::vector<double> out(n);
  for (size_t i = 0; i < n; ++i) {
    uint32_t bits = static_cast<uint32_t>(raw[i]) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    out[i] = f;
  }
  return out;
}

}  // namespace

// Every variant (4/8 warps, 16/32 rows per warp, 32/64-key tiles, 2/3 stages), D 64 and 128, causal
// with Lq < Lk and without mask, GQA 4, over lengths that are not tile multiples; a second shape
// (Lq 300 > 2 blocks of 128 rows, Lk 700: more tiles than pipeline stages) with a negative scale
// (the unfolded softmax path).
TEST_F(GpuAttentionKernels, FlashVariantsAgainstFloat64) {
  const int B = 2, Hkv = 2, Hq = 8;
  struct Shape {
    int Lq, Lk, D;
    float scale_sign;
  };
  for (Shape sh : {Shape{200, 333, 64, 1.0f}, Shape{200, 333, 128, 1.0f}, Shape{300, 700, 128, -1.0f}}) {
    const int Lq = sh.Lq, Lk = sh.Lk, D = sh.D;
    auto q = random_array({B, Hq, Lq, D}, bfloat16, -1, 1, 11);
    auto k = random_array({B, Hkv, Lk, D}, bfloat16, -1, 1, 12);
    auto v = random_array({B, Hkv, Lk, D}, bfloat16, -1, 1, 13);
    eval(q, k, v);
    auto qv = astype(q, float64).to_vector<double>();
    auto kv = astype(k, float64).to_vector<double>();
    auto vv = astype(v, float64).to_vector<double>();
    synchronize();
    const float scale = sh.scale_sign / std::sqrt(static_cast<float>(D));
    const size_t n = static_cast<size_t>(B) * Hq * Lq * D;
    DeviceBuffer out(n * 2);
    for (bool causal : {true, false}) {
      auto ref = reference_attention(qv, kv, vv, {}, B, Hq, Hkv, Lq, Lk, D, scale, causal);
      auto a = make_args(q, k, v, out.p, scale, causal);
      ASSERT_TRUE(cuda::sdpa_flash_supported(cuda::dt_bf16, a));
      for (int var = 0; var < cuda::kFlashVariants; ++var) {
        ASSERT_EQ(cudaMemset(out.p, 0xff, n * 2), cudaSuccess);  // NaN where nothing is written
        cuda::sdpa_flash(cuda::dt_bf16, a, nullptr, var);
        ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
        auto got = bf16_from_device(out.p, n);
        size_t bad = 0;
        for (size_t i = 0; i < n; ++i) {
          if (!(std::abs(got[i] - ref[i]) <= 1e-2 + 1e-2 * std::abs(ref[i]))) {
            if (bad++ < 3) ADD_FAILURE() << "at " << i << ": " << got[i] << " vs " << ref[i];
          }
        }
        EXPECT_EQ(bad, 0u) << "Lq=" << Lq << " Lk=" << Lk << " D=" << D << " causal=" << causal << " variant "
                           << var << " (" << cuda::kFlashVariantNames[var] << ")";
      }
    }
  }
}

// Split-K decode with and without the K/V prefetch, against float64: GQA 4, 1 and 3 query rows
// (causal), Lk not a multiple of a key step, D 64 and 128.
TEST_F(GpuAttentionKernels, DecodePrefetchOnAndOffAgainstFloat64) {
  const int B = 2, Hkv = 2, Hq = 8, Lk = 1001;
  for (int D : {64, 128}) {
    for (int Lq : {1, 3}) {
      auto q = random_array({B, Hq, Lq, D}, bfloat16, -1, 1, 21);
      auto k = random_array({B, Hkv, Lk, D}, bfloat16, -1, 1, 22);
      auto v = random_array({B, Hkv, Lk, D}, bfloat16, -1, 1, 23);
      eval(q, k, v);
      auto qv = astype(q, float64).to_vector<double>();
      auto kv = astype(k, float64).to_vector<double>();
      auto vv = astype(v, float64).to_vector<double>();
      synchronize();
      const float scale = 1.0f / std::sqrt(static_cast<float>(D));
      const size_t n = static_cast<size_t>(B) * Hq * Lq * D;
      auto ref = reference_attention(qv, kv, vv, {}, B, Hq, Hkv, Lq, Lk, D, scale, true);
      DeviceBuffer out(n * 2);
      auto a = make_args(q, k, v, out.p, scale, true);
      ASSERT_TRUE(cuda::sdpa_decode_supported(cuda::dt_bf16, a));
      DeviceBuffer scratch(cuda::sdpa_decode_scratch_bytes(cuda::dt_bf16, a));
      for (int pf : {0, 1}) {
        ASSERT_EQ(cudaMemset(out.p, 0xff, n * 2), cudaSuccess);
        cuda::sdpa_decode(cuda::dt_bf16, a, scratch.p, nullptr, pf);
        ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
        auto got = bf16_from_device(out.p, n);
        size_t bad = 0;
        for (size_t i = 0; i < n; ++i) {
          if (!(std::abs(got[i] - ref[i]) <= 1e-2 + 1e-2 * std::abs(ref[i]))) {
            if (bad++ < 3) ADD_FAILURE() << "at " << i << ": " << got[i] << " vs " << ref[i];
          }
        }
        EXPECT_EQ(bad, 0u) << "D=" << D << " Lq=" << Lq << " prefetch=" << pf;
      }
    }
  }
}

TEST_F(GpuAttentionKernels, UnsupportedShapesAreDeclined) {
  cuda::SdpaArgs a{};
  a.B = 1, a.Hq = 4, a.Hkv = 2, a.Lq = 32, a.Lk = 64, a.D = 80, a.Dv = 80;
  alignas(16) static char buf[16];
  a.q = a.k = a.v = buf;
  a.qs[3] = a.ks[3] = a.vs[3] = 1;
  EXPECT_FALSE(cuda::sdpa_flash_supported(cuda::dt_bf16, a));  // D 80
  a.D = a.Dv = 128;
  EXPECT_TRUE(cuda::sdpa_flash_supported(cuda::dt_bf16, a));
  EXPECT_FALSE(cuda::sdpa_flash_supported(cuda::dt_f32, a));  // f32 goes to the generic kernel
  a.ks[2] = 130;                                              // rows not 16-byte aligned
  EXPECT_FALSE(cuda::sdpa_flash_supported(cuda::dt_bf16, a));
  a.ks[2] = 128;
  a.k = buf + 2;  // misaligned base
  EXPECT_FALSE(cuda::sdpa_flash_supported(cuda::dt_bf16, a));
  EXPECT_FALSE(cuda::sdpa_decode_supported(cuda::dt_bf16, a));  // Lq 32 > kDecodeMaxLq, and k
  a.k = buf;
  a.Lq = 8;
  EXPECT_TRUE(cuda::sdpa_decode_supported(cuda::dt_bf16, a));
  a.Lq = 9;
  EXPECT_FALSE(cuda::sdpa_decode_supported(cuda::dt_bf16, a));
}

// Kernel time only (CUDA events): prefill B=1 H=32 L=4096 D=128 bf16 per variant, and decode
// of one token over an 8k cache view (32 q heads / 8 kv heads) for split-K vs the generic kernel.
TEST_F(GpuAttentionKernels, DISABLED_KernelTimings) {
  {
    const int B = 1, H = 32, L = 4096, D = 128;
    auto q = random_array({B, H, L, D}, bfloat16, -1, 1, 1);
    auto k = random_array({B, H, L, D}, bfloat16, -1, 1, 2);
    auto v = random_array({B, H, L, D}, bfloat16, -1, 1, 3);
    eval(q, k, v);
    synchronize();
    DeviceBuffer out(static_cast<size_t>(B) * H * L * D * 2);
    for (bool causal : {true, false}) {
      auto a = make_args(q, k, v, out.p, 1.0f / std::sqrt(128.0f), causal);
      for (int var = 0; var < cuda::kFlashVariants; ++var) {
        float ms = kernel_ms([&] { cuda::sdpa_flash(cuda::dt_bf16, a, nullptr, var); }, 10);
        double flops = 4.0 * B * H * L * double(L) * D * (causal ? 0.5 : 1.0);
        std::printf(
            "kernel flash prefill L=4096 H=32 D=128 bf16 %s, variant %d (%s)%s: %.3f ms, %.1f TFLOP/s\n",
            causal ? "causal" : "full", var, cuda::kFlashVariantNames[var],
            var == cuda::sdpa_flash_default_variant() ? " [default]" : "", ms, flops / (ms * 1e-3) / 1e12);
      }
    }
  }
  {
    const int Hq = 32, Hkv = 8, D = 128;
    for (int Lk : {8192, 4096, 32768}) {
      auto q = random_array({1, Hq, 1, D}, bfloat16, -1, 1, 4);
      auto kc = random_array({1, Hkv, Lk + 1024, D}, bfloat16, -1, 1, 5);
      auto vc = random_array({1, Hkv, Lk + 1024, D}, bfloat16, -1, 1, 6);
      auto k = slice(kc, {0, 0, 0, 0}, {1, Hkv, Lk, D});
      auto v = slice(vc, {0, 0, 0, 0}, {1, Hkv, Lk, D});
      eval(q, k, v);
      synchronize();
      DeviceBuffer out(static_cast<size_t>(Hq) * D * 2);
      auto a = make_args(q, k, v, out.p, 0.088f, false);
      ASSERT_TRUE(cuda::sdpa_decode_supported(cuda::dt_bf16, a));
      DeviceBuffer scratch(cuda::sdpa_decode_scratch_bytes(cuda::dt_bf16, a));
      double bytes = 2.0 * Hkv * Lk * D * 2;
      float ms = kernel_ms([&] { cuda::sdpa_decode(cuda::dt_bf16, a, scratch.p, nullptr, 1); }, 100);
      float ms_nopf = kernel_ms([&] { cuda::sdpa_decode(cuda::dt_bf16, a, scratch.p, nullptr, 0); }, 100);
      float ms_generic = kernel_ms([&] { cuda::sdpa(cuda::dt_bf16, a, nullptr); }, 20);
      std::printf(
          "kernel decode Lk=%d Hq=32 Hkv=8 D=128 bf16: split-K prefetch %.1f us (%.0f GB/s), no prefetch "
          "%.1f us (%.0f GB/s), generic %.1f us (%.0f GB/s)\n",
          Lk, ms * 1e3, bytes / (ms * 1e-3) / 1e9, ms_nopf * 1e3, bytes / (ms_nopf * 1e-3) / 1e9,
          ms_generic * 1e3, bytes / (ms_generic * 1e-3) / 1e9);
    }
  }
}
