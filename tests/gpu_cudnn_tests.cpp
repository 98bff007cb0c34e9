// cuDNN path of the CUDA backend (cudnn.h): attention prefill and convolution against float64 /
// CPU references, the fallbacks (unsupported shapes, masks, TESSERA_CUDNN off) and, DISABLED_,
// kernel timings of cuDNN attention vs tessera's flash kernel and of cuDNN convolutions.
#include <cuda_runtime.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>

#include "attention_reference.h"
#include "tessera/backend/cuda/cudnn.h"
#include "tessera/backend/cuda/kernels_attention.h"
#include "gpu_test_utils.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::testing;

namespace {

class GpuCudnn : public tessera::testing::GpuTest {
 protected:
  void SetUp() override {
    GpuTest::SetUp();
    cuda::set_cudnn_enabled(true);
  }
  void TearDown() override { cuda::set_cudnn_enabled(true); }
};

struct AttnCase {
  Dtype dtype;
  int D, Lq, Lk, group;
  bool causal;
  bool strided;  // q a transposed (B, Lq, Hq, D) array, k/v rows [5, 5 + Lk) of a longer cache
  int B = 1, Hkv = 2;
};

std::string describe(const AttnCase& c) {
  return std::string(dtype_name(c.dtype)) + " D=" + std::to_string(c.D) + " Lq=" + std::to_string(c.Lq) +
         " Lk=" + std::to_string(c.Lk) + " group=" + std::to_string(c.group) + (c.causal ? " causal" : " full") +
         (c.strided ? " strided" : "") + " B=" + std::to_string(c.B);
}

// Runs fast::scaled_dot_product_attention on the GPU, checks it against float64 and returns
// whether the cuDNN path ran it (its run counter moved).
bool check_attention(const AttnCase& c, unsigned seed, const std::optional<array>& mask = std::nullopt,
                     const std::vector<double>& add = {}) {
  const int B = c.B, Hkv = c.Hkv, Hq = Hkv * c.group, D = c.D, Lq = c.Lq, Lk = c.Lk;
  const float scale = 1.3f / std::sqrt(static_cast<float>(D));
  auto [q, k, v] = random_attention_inputs(c.dtype, B, Hq, Hkv, Lq, Lk, D, c.strided, seed, 5, 24);
  auto qv = astype(q, float64).to_vector<double>();
  auto kv = astype(k, float64).to_vector<double>();
  auto vv = astype(v, float64).to_vector<double>();
  auto ref = reference_attention(qv, kv, vv, add, B, Hq, Hkv, Lq, Lk, D, scale, c.causal);
  size_t before = cuda::cudnn_stats().sdpa_runs;
  array out = mask ? fast::scaled_dot_product_attention(q, k, v, scale, *mask)
                   : fast::scaled_dot_product_attention(q, k, v, scale, c.causal ? "causal" : "");
  eval(out);
  bool on_cudnn = cuda::cudnn_stats().sdpa_runs > before;
  double tol = c.dtype == float32 ? 1e-5 : c.dtype == float16 ? 5e-3 : 1e-2;
  EXPECT_EQ(out.dtype(), c.dtype);
  EXPECT_TRUE(all_close(out, ref, tol, tol)) << describe(c) << (on_cudnn ? " (cuDNN)" : " (tessera kernel)");
  return on_cudnn;
}

}  // namespace

TEST_F(GpuCudnn, LibraryLoads) {
  ASSERT_TRUE(cuda::cudnn_compiled()) << cuda::cudnn_status();
  ASSERT_TRUE(cuda::cudnn_available()) << cuda::cudnn_status();
  EXPECT_GE(cuda::cudnn_version(), 90000);
  EXPECT_EQ(cuda::cudnn_status(), "");
  std::printf("cuDNN %d loaded\n", cuda::cudnn_version());
  EXPECT_TRUE(cuda::set_cudnn_enabled(false));
  EXPECT_FALSE(cuda::cudnn_available());
  EXPECT_NE(cuda::cudnn_status().find("disabled"), std::string::npos);
  EXPECT_FALSE(cuda::set_cudnn_enabled(true));
  EXPECT_TRUE(cuda::cudnn_available());
}

// Prefill shapes cuDNN runs: both half types, head dims 64/128, causal (Lq == Lk and the
// bottom-right diagonal of Lq < Lk) and full (also Lq > Lk), GQA 4, odd lengths (1000, 333),
// strided q and KV-cache views, batch 2.
TEST_F(GpuCudnn, SdpaAgainstFloat64) {
  std::vector<AttnCase> cases;
  for (Dtype dt : {bfloat16, float16}) {
    for (int D : {64, 128}) {
      cases.push_back({dt, D, 1000, 1000, 1, true, false});
      cases.push_back({dt, D, 1000, 1000, 4, false, false});
      cases.push_back({dt, D, 100, 333, 4, true, D == 128});
      cases.push_back({dt, D, 257, 129, 1, false, D == 64});
    }
  }
  cases.push_back({bfloat16, 128, 64, 64, 2, true, true, 2, 2});
  cases.push_back({float16, 64, 33, 1000, 1, true, false, 2, 1});
  unsigned seed = 100;
  for (const auto& c : cases) {
    bool on = check_attention(c, seed += 10);
    EXPECT_TRUE(on) << describe(c) << ": expected the cuDNN path (" << cuda::cudnn_status()
                    << "; TESSERA_CUDNN_VERBOSE=1 shows why a graph was declined)";
  }
}

// What cuDNN's path declines still runs (tessera's kernels) and is correct: head dim 80, a mask
// array, float32, decode (Lq <= 8: the split-K kernel), causal with Lq > Lk, and the path disabled.
TEST_F(GpuCudnn, SdpaFallbacks) {
  EXPECT_FALSE(check_attention({bfloat16, 80, 40, 70, 2, true, false}, 1));
  EXPECT_FALSE(check_attention({float32, 64, 40, 70, 2, false, false}, 2));
  EXPECT_FALSE(check_attention({bfloat16, 128, 1, 300, 4, true, false}, 3));
  EXPECT_FALSE(check_attention({float16, 64, 90, 50, 1, true, false}, 4));
  {
    // Additive float mask (1, Hq, Lq, Lk), broadcast over the batch.
    const int B = 1, Hq = 4, Lq = 48, Lk = 80;
    auto r = random_values(static_cast<size_t>(Hq) * Lq * Lk, -2, 2, 77);
    array mask = astype(array(r, {1, Hq, Lq, Lk}, float64), float32);
    EXPECT_FALSE(check_attention({bfloat16, 64, Lq, Lk, 2, false, false, B, 2}, 5, mask, r));
  }
  cuda::set_cudnn_enabled(false);
  size_t declined = cuda::cudnn_stats().sdpa_declined;
  EXPECT_FALSE(check_attention({bfloat16, 128, 300, 300, 1, true, false}, 6));
  EXPECT_GT(cuda::cudnn_stats().sdpa_declined, declined);
}

// At a larger size (float64 would be slow) cuDNN agrees with tessera's flash kernel.
TEST_F(GpuCudnn, SdpaMatchesFlashKernelAt2048) {
  const int B = 1, H = 8, L = 2048, D = 128;
  auto q = random_array({B, H, L, D}, bfloat16, -1, 1, 31);
  auto k = random_array({B, H, L, D}, bfloat16, -1, 1, 32);
  auto v = random_array({B, H, L, D}, bfloat16, -1, 1, 33);
  eval(q, k, v);
  for (bool causal : {true, false}) {
    size_t before = cuda::cudnn_stats().sdpa_runs;
    array a = fast::scaled_dot_product_attention(q, k, v, 0.0884f, causal ? "causal" : "");
    eval(a);
    EXPECT_EQ(cuda::cudnn_stats().sdpa_runs, before + 1);
    cuda::set_cudnn_enabled(false);
    array b = fast::scaled_dot_product_attention(q, k, v, 0.0884f, causal ? "causal" : "");
    eval(b);
    cuda::set_cudnn_enabled(true);
    EXPECT_EQ(cuda::cudnn_stats().sdpa_runs, before + 1);
    EXPECT_TRUE(all_close(a, astype(b, float64).to_vector<double>(), 2e-2, 2e-2)) << "causal=" << causal;
  }
}

namespace {

struct ConvCase {
  int nsp;
  int N, Cin, Cout, groups;
  std::vector<int> in, kernel, stride, padding, dilation;
};

std::string describe(const ConvCase& c, Dtype dt) {
  auto v = [](const std::vector<int>& x) {
    std::string s = "(";
    for (size_t i = 0; i < x.size(); ++i) s += (i ? "," : "") + std::to_string(x[i]);
    return s + ")";
  };
  return std::string(dtype_name(dt)) + " conv" + std::to_string(c.nsp) + "d N=" + std::to_string(c.N) +
         " in=" + v(c.in) + " Cin=" + std::to_string(c.Cin) + " Cout=" + std::to_string(c.Cout) +
         " k=" + v(c.kernel) + " stride=" + v(c.stride) + " pad=" + v(c.padding) + " dil=" + v(c.dilation) +
         " groups=" + std::to_string(c.groups);
}

array run_conv(const ConvCase& c, const array& x, const array& w, StreamOrDevice s) {
  if (c.nsp == 1) return conv1d(x, w, c.stride[0], c.padding[0], c.dilation[0], c.groups, s);
  if (c.nsp == 2) {
    return conv2d(x, w, {c.stride[0], c.stride[1]}, {c.padding[0], c.padding[1]}, {c.dilation[0], c.dilation[1]},
                  c.groups, s);
  }
  return conv3d(x, w, {c.stride[0], c.stride[1], c.stride[2]}, {c.padding[0], c.padding[1], c.padding[2]},
                {c.dilation[0], c.dilation[1], c.dilation[2]}, c.groups, s);
}

// GPU conv vs the CPU conv of the same (rounded) inputs in float64; returns whether cuDNN ran it.
bool check_conv(const ConvCase& c, Dtype dt, unsigned seed) {
  Shape xs{c.N}, ws{c.Cout};
  for (int d = 0; d < c.nsp; ++d) {
    xs.push_back(c.in[d]);
    ws.push_back(c.kernel[d]);
  }
  xs.push_back(c.Cin);
  ws.push_back(c.Cin / c.groups);
  array x = random_array(xs, dt, -1, 1, seed);
  array w = random_array(ws, dt, -1, 1, seed + 1);
  eval(x, w);
  array ref = run_conv(c, astype(x, float64, Device::cpu), astype(w, float64, Device::cpu), Device::cpu);
  size_t before = cuda::cudnn_stats().conv_runs;
  array out = run_conv(c, x, w, Device::gpu);
  eval(out);
  bool on_cudnn = cuda::cudnn_stats().conv_runs > before;
  EXPECT_EQ(out.dtype(), dt);
  EXPECT_EQ(out.shape(), ref.shape()) << describe(c, dt);
  double tol = dt == float32 ? 1e-4 : dt == float16 ? 5e-3 : 1.5e-2;
  EXPECT_TRUE(all_close(out, ref.to_vector<double>(), tol, tol))
      << describe(c, dt) << (on_cudnn ? " (cuDNN)" : " (CPU fallback)");
  return on_cudnn;
}

}  // namespace

// 1D/2D/3D, strides, paddings, kernel dilations, groups (incl. depthwise), 1x1 kernels, odd sizes,
// in f32 (exact FMA engines, no TF32), f16 and bf16. The plain cases must run on cuDNN; for the
// rest the test prints which ones cuDNN declined (they ran on the CPU and were checked the same).
TEST_F(GpuCudnn, ConvAgainstCpu) {
  struct Item {
    ConvCase c;
    bool must_cudnn;
  };
  std::vector<Item> items = {
      {{2, 2, 8, 16, 1, {17, 13}, {3, 3}, {1, 1}, {1, 1}, {1, 1}}, true},
      {{2, 3, 16, 8, 1, {20, 21}, {3, 3}, {2, 2}, {1, 0}, {1, 1}}, true},
      {{2, 1, 8, 8, 1, {15, 16}, {3, 2}, {1, 1}, {2, 1}, {2, 3}}, true},
      {{2, 2, 8, 16, 2, {12, 12}, {3, 3}, {1, 1}, {1, 1}, {1, 1}}, false},
      {{2, 2, 16, 16, 16, {14, 11}, {3, 3}, {1, 2}, {1, 1}, {1, 1}}, false},
      {{2, 4, 32, 24, 1, {9, 9}, {1, 1}, {1, 1}, {0, 0}, {1, 1}}, true},
      {{2, 1, 3, 8, 1, {31, 29}, {7, 7}, {2, 2}, {3, 3}, {1, 1}}, false},
      {{1, 2, 8, 16, 1, {50}, {5}, {1}, {2}, {1}}, true},
      {{1, 3, 16, 8, 4, {41}, {3}, {2}, {1}, {2}}, false},
      {{3, 1, 8, 8, 1, {6, 7, 8}, {3, 3, 3}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}}, true},
      {{3, 2, 8, 16, 2, {5, 9, 6}, {2, 3, 1}, {1, 2, 1}, {0, 1, 0}, {2, 1, 1}}, false},
  };
  unsigned seed = 500;
  std::vector<std::string> declined;
  for (Dtype dt : {float32, float16, bfloat16}) {
    for (const auto& it : items) {
      bool on = check_conv(it.c, dt, seed += 7);
      if (it.must_cudnn) {
        EXPECT_TRUE(on) << describe(it.c, dt) << ": expected the cuDNN path (" << cuda::cudnn_status() << ")";
      }
      if (!on) declined.push_back(describe(it.c, dt));
    }
  }
  std::printf("conv cases cuDNN declined (ran on the CPU): %zu\n", declined.size());
  for (const auto& s : declined) std::printf("  %s\n", s.c_str());
}

// With the path disabled, and for float64, convolution still runs (on the CPU) and matches; bad
// arguments are rejected before any kernel.
TEST_F(GpuCudnn, ConvFallbacksAndErrors) {
  ConvCase c{2, 2, 8, 8, 1, {10, 9}, {3, 3}, {1, 1}, {1, 1}, {1, 1}};
  cuda::set_cudnn_enabled(false);
  EXPECT_FALSE(check_conv(c, float32, 900));
  cuda::set_cudnn_enabled(true);
  EXPECT_FALSE(check_conv(c, float64, 901));
  array x = random_array({1, 8, 8, 6}, float32, -1, 1, 1);
  array w = random_array({4, 3, 3, 4}, float32, -1, 1, 2);
  EXPECT_THROW(conv2d(x, w), std::invalid_argument);  // 6 input channels vs 4 in the weight
  array w2 = random_array({4, 9, 9, 6}, float32, -1, 1, 3);
  EXPECT_THROW(conv2d(x, w2), std::invalid_argument);  // kernel larger than the input
}

// Attention prefill B=1 H=32 L=4096 D=128 bf16 (TFLOP/s counting the causal half) on cuDNN and on
// tessera's flash kernel, and convolutions on cuDNN. Compare with benchmarks/gpu_attention_torch.py
// and benchmarks/gpu_conv_torch.py (same shapes).
TEST_F(GpuCudnn, DISABLED_Timings) {
  ASSERT_TRUE(cuda::cudnn_available()) << cuda::cudnn_status();
  std::printf("cuDNN %d\n", cuda::cudnn_version());
  {
    const int B = 1, H = 32, L = 4096, D = 128;
    auto q = random_array({B, H, L, D}, bfloat16, -1, 1, 1);
    auto k = random_array({B, H, L, D}, bfloat16, -1, 1, 2);
    auto v = random_array({B, H, L, D}, bfloat16, -1, 1, 3);
    auto o = random_array({B, H, L, D}, bfloat16, -1, 1, 4);  // materialized (written by the kernels)
    eval(q, k, v, o);
    synchronize();
    cuda::SdpaArgs a{};
    a.q = q.device_data();
    a.k = k.device_data();
    a.v = v.device_data();
    a.out = const_cast<void*>(o.device_data());
    for (int i = 0; i < 4; ++i) a.qs[i] = a.ks[i] = a.vs[i] = q.strides()[i];
    a.B = B, a.Hq = H, a.Hkv = H, a.Lq = L, a.Lk = L, a.D = D, a.Dv = D;
    a.scale = 1.0f / std::sqrt(static_cast<float>(D));
    {
      // First call of a new shape: graph build (and any runtime kernel compilation) included.
      cuda::SdpaArgs b = a;
      b.Lq = b.Lk = 4000;
      b.causal = true;
      cudaDeviceSynchronize();
      auto t0 = std::chrono::steady_clock::now();
      bool ok = cuda::cudnn_sdpa(cuda::dt_bf16, b, nullptr);
      cudaDeviceSynchronize();
      double first = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      t0 = std::chrono::steady_clock::now();
      ok &= cuda::cudnn_sdpa(cuda::dt_bf16, b, nullptr);
      cudaDeviceSynchronize();
      double second = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      EXPECT_TRUE(ok);
      std::printf("cuDNN attention graph for a new shape (L=4000): first call %.1f ms, cached %.3f ms\n", first * 1e3,
                  second * 1e3);
    }
    std::printf("%-46s %10s %10s\n", "attention prefill (bf16)", "ms", "TFLOP/s");
    for (bool causal : {true, false}) {
      a.causal = causal;
      double flops = 4.0 * B * H * L * double(L) * D * (causal ? 0.5 : 1.0);
      bool ok = true;
      float ms = kernel_ms([&] { ok &= cuda::cudnn_sdpa(cuda::dt_bf16, a, nullptr); }, 20);
      EXPECT_TRUE(ok) << "cuDNN declined the prefill shape";
      std::printf("%-46s %10.3f %10.1f\n", (std::string("B=1 H=32 L=4096 D=128 ") + (causal ? "causal" : "full") + " cuDNN").c_str(),
                  ms, flops / ms / 1e9);
      ms = kernel_ms([&] { cuda::sdpa_flash(cuda::dt_bf16, a, nullptr); }, 20);
      std::printf("%-46s %10.3f %10.1f\n",
                  (std::string("B=1 H=32 L=4096 D=128 ") + (causal ? "causal" : "full") + " tessera flash").c_str(), ms,
                  flops / ms / 1e9);
    }
  }
  {
    struct T {
      const char* name;
      ConvCase c;
    };
    std::vector<T> shapes = {
        {"resnet 3x3 N=32 56x56 64->64", {2, 32, 64, 64, 1, {56, 56}, {3, 3}, {1, 1}, {1, 1}, {1, 1}}},
        {"stem 7x7/2 N=32 224x224 3->64", {2, 32, 3, 64, 1, {224, 224}, {7, 7}, {2, 2}, {3, 3}, {1, 1}}},
        {"1x1 N=32 28x28 256->512", {2, 32, 256, 512, 1, {28, 28}, {1, 1}, {1, 1}, {0, 0}, {1, 1}}},
        {"depthwise 3x3 N=32 112x112 C=96", {2, 32, 96, 96, 96, {112, 112}, {3, 3}, {1, 1}, {1, 1}, {1, 1}}},
        {"conv1d k=3 N=8 L=4096 512->512", {1, 8, 512, 512, 1, {4096}, {3}, {1}, {1}, {1}}},
    };
    std::printf("%-36s %-8s %10s %10s\n", "convolution (channels-last)", "dtype", "ms", "TFLOP/s");
    for (const auto& s : shapes) {
      for (Dtype dt : {bfloat16, float16, float32}) {
        const auto& c = s.c;
        Shape xs{c.N}, ws{c.Cout};
        for (int d = 0; d < c.nsp; ++d) {
          xs.push_back(c.in[d]);
          ws.push_back(c.kernel[d]);
        }
        xs.push_back(c.Cin);
        ws.push_back(c.Cin / c.groups);
        array x = random_array(xs, dt, -1, 1, 7);
        array w = random_array(ws, dt, -1, 1, 8);
        array y = run_conv(c, x, w, Device::gpu);
        eval(x, w, y);
        synchronize();
        cuda::CudnnConvArgs a;
        a.nsp = c.nsp;
        a.N = c.N, a.Cin = c.Cin, a.Cout = c.Cout, a.groups = c.groups;
        double outs = double(c.N) * c.Cout, macs_per_out = double(c.Cin / c.groups);
        for (int d = 0; d < c.nsp; ++d) {
          a.in[d] = c.in[d], a.kernel[d] = c.kernel[d], a.out[d] = y.shape(d + 1);
          a.stride[d] = c.stride[d], a.padding[d] = c.padding[d], a.dilation[d] = c.dilation[d];
          outs *= y.shape(d + 1);
          macs_per_out *= c.kernel[d];
        }
        a.x = x.device_data();
        a.w = w.device_data();
        a.y = const_cast<void*>(y.device_data());
        int dtc = dt == bfloat16 ? cuda::dt_bf16 : dt == float16 ? cuda::dt_f16 : cuda::dt_f32;
        if (!cuda::cudnn_conv(dtc, a, nullptr)) {
          std::printf("%-36s %-8s   cuDNN declined (runs on the CPU)\n", s.name, dtype_name(dt).c_str());
          continue;
        }
        float ms = kernel_ms([&] { cuda::cudnn_conv(dtc, a, nullptr); }, 20);
        std::printf("%-36s %-8s %10.3f %10.1f\n", s.name, dtype_name(dt).c_str(), ms, 2.0 * outs * macs_per_out / ms / 1e9);
      }
    }
  }
}
