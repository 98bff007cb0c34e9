// GPU-only tests (binary tessera_gpu_tests, built with CUDA; CI compiles but does not run it):
// host/device residency, cross-stream dependencies, matmul and attention against float64
// references, the device allocator's limit. Fails loudly when no GPU is visible.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "gpu_perf_refs.h"
#include "gpu_test_utils.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::testing;

namespace {

class Gpu : public tessera::testing::GpuTest {};

}  // namespace

TEST_F(Gpu, ResidencyRoundTrip) {
  auto x = random_array({64, 33}, float32, -1, 1, 1);
  auto y = exp(x);  // GPU kernel: device-only result
  eval(y);
  auto host = y.to_vector<double>();  // host read syncs
  auto xv = x.to_vector<double>();
  for (size_t i = 0; i < xv.size(); ++i) ASSERT_NEAR(host[i], std::exp(xv[i]), 1e-5 * std::exp(xv[i]));
  // A CPU op on the host copy, then a GPU op on its result.
  auto z = add(y, array(1.0f), Device::cpu);
  auto w = multiply(z, array(2.0f), Device::gpu);
  std::vector<double> ref(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) ref[i] = (std::exp(xv[i]) + 1.0) * 2.0;
  EXPECT_TRUE(all_close(w, ref, 1e-5, 1e-6));
  // Writing through data() on the host after a device result was read keeps both sides right.
  auto u = multiply(y, array(3.0f));
  EXPECT_TRUE(all_close(sum(u), {3.0 * std::accumulate(host.begin(), host.end(), 0.0)}, 1e-4, 1e-3));
}

TEST_F(Gpu, CrossStreamDependencies) {
  auto s1 = new_stream(Device::gpu);
  auto s2 = new_stream(Device::gpu);
  auto a = random_array({1 << 20}, float32, 0, 1, 2);
  eval(a);
  auto b = exp(a, s1);
  auto c = multiply(b, array(2.0f), s2);  // reads s1's result on s2
  auto d = add(b, c, s1);                 // and back
  auto av = a.to_vector<double>();
  std::vector<double> ref(av.size());
  for (size_t i = 0; i < av.size(); ++i) ref[i] = 3.0 * std::exp(av[i]);
  EXPECT_TRUE(all_close(d, ref, 1e-5, 1e-6));
}

TEST_F(Gpu, MatmulHalfTypesAgainstFloat64) {
  const int M = 70, K = 129, N = 45;
  auto av = random_values(static_cast<size_t>(M) * K, -1, 1, 3);
  auto bv = random_values(static_cast<size_t>(K) * N, -1, 1, 4);
  for (Dtype d : {float16, bfloat16, float32}) {
    auto a = astype(array(av, {M, K}, float64), d);
    auto b = astype(array(bv, {K, N}, float64), d);
    // References from the rounded inputs.
    auto ar = astype(a, float64).to_vector<double>();
    auto br = astype(b, float64).to_vector<double>();
    auto ref = ref_bmm(ar, br, 1, M, K, N, false);
    double tol = d == float32 ? 1e-4 : d == float16 ? 1e-2 : 5e-2;
    EXPECT_TRUE(all_close(matmul(a, b), ref, tol, tol)) << d;
    // Transposed view operand (no copy) and a batch broadcast.
    auto bt = transpose(astype(array(bv, {K, N}, float64), d));  // (N, K)
    EXPECT_TRUE(all_close(matmul(a, transpose(bt)), ref, tol, tol)) << d;
    auto ab = broadcast_to(reshape(a, {1, M, K}), {3, M, K});
    auto r3 = matmul(ab, b).to_vector<double>();
    for (int i = 0; i < 3; ++i) {
      for (size_t j = 0; j < ref.size(); ++j) ASSERT_NEAR(r3[i * ref.size() + j], ref[j], tol * (1 + std::abs(ref[j])));
    }
  }
}

TEST_F(Gpu, AttentionAgainstFloat64) {
  const int B = 2, Hq = 4, Hkv = 2, Lq = 5, Lk = 9, D = 64;
  auto q = random_array({B, Hq, Lq, D}, float32, -1, 1, 5);
  auto k = random_array({B, Hkv, Lk, D}, float32, -1, 1, 6);
  auto v = random_array({B, Hkv, Lk, D}, float32, -1, 1, 7);
  float scale = 1.0f / std::sqrt(static_cast<float>(D));
  auto qv = q.to_vector<double>(), kv = k.to_vector<double>(), vv = v.to_vector<double>();
  for (bool causal : {false, true}) {
    std::vector<double> ref(static_cast<size_t>(B) * Hq * Lq * D);
    for (int b = 0; b < B; ++b)
      for (int h = 0; h < Hq; ++h)
        for (int i = 0; i < Lq; ++i) {
          int kh = h / (Hq / Hkv);
          std::vector<double> s(Lk);
          double mx = -1e300;
          int jend = causal ? i + Lk - Lq + 1 : Lk;
          for (int j = 0; j < jend; ++j) {
            double acc = 0;
            for (int c = 0; c < D; ++c)
              acc += qv[((b * Hq + h) * Lq + i) * D + c] * kv[((b * Hkv + kh) * Lk + j) * D + c];
            s[j] = acc * scale;
            mx = std::max(mx, s[j]);
          }
          double den = 0;
          for (int j = 0; j < jend; ++j) den += std::exp(s[j] - mx);
          for (int c = 0; c < D; ++c) {
            double o = 0;
            for (int j = 0; j < jend; ++j) o += std::exp(s[j] - mx) / den * vv[((b * Hkv + kh) * Lk + j) * D + c];
            ref[((b * Hq + h) * Lq + i) * D + c] = o;
          }
        }
    auto out = fast::scaled_dot_product_attention(q, k, v, scale, causal ? "causal" : "");
    EXPECT_TRUE(all_close(out, ref, 1e-4, 1e-5)) << "causal=" << causal;
  }
}

TEST_F(Gpu, AllocatorLimitRaisesOutOfMemory) {
  size_t old = set_memory_limit(size_t(1) << 20);
  auto big = zeros({1 << 20}, float32);  // 4 MB on the device
  EXPECT_THROW(eval(big), OutOfMemory);
  set_memory_limit(old);
  auto ok = zeros({1 << 20}, float32);
  eval(ok);
  EXPECT_GE(get_active_memory_on(Device::gpu), size_t(4) << 20);
}

TEST_F(Gpu, KvCacheSliceUpdateInPlace) {
  auto cache = zeros({1, 2, 16, 8}, float32);
  eval(cache);
  for (int t = 0; t < 4; ++t) {
    auto kv = full({1, 2, 1, 8}, static_cast<float>(t + 1));
    cache = slice_update(cache, kv, {0, 0, t, 0}, {1, 2, t + 1, 8});
  }
  auto v = cache.to_vector<float>();
  for (int h = 0; h < 2; ++h)
    for (int t = 0; t < 16; ++t) EXPECT_EQ(v[(h * 16 + t) * 8], t < 4 ? t + 1.0f : 0.0f);
}

// Timings (run with --gtest_also_run_disabled_tests): prints TFLOP/s and GB/s.
TEST_F(Gpu, DISABLED_Timings) {
  auto time_it = [](auto&& f, int reps) {
    f();
    synchronize();
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) f();
    synchronize();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
  };
  {
    const int n = 4096;
    auto a = astype(random_array({n, n}, float32, -1, 1, 1), bfloat16);
    auto b = astype(random_array({n, n}, float32, -1, 1, 2), bfloat16);
    eval(a, b);
    double s = time_it([&] { eval(matmul(a, b)); }, 20);
    std::printf("matmul 4096^3 bf16: %.1f TFLOP/s\n", 2.0 * n * n * n / s / 1e12);
  }
  {
    const int rows = 8192, d = 4096;
    auto x = astype(random_array({rows, d}, float32, -1, 1, 3), bfloat16);
    auto w = astype(random_array({d}, float32, -1, 1, 4), bfloat16);
    eval(x, w);
    double s = time_it([&] { eval(fast::rms_norm(x, w, 1e-5f)); }, 20);
    std::printf("rms_norm (8192, 4096) bf16: %.0f GB/s\n", 2.0 * rows * d * 2 / s / 1e9);
  }
  {
    const int n = 1 << 26;
    auto a = random_array({n}, float32, -1, 1, 5);
    auto b = random_array({n}, float32, -1, 1, 6);
    eval(a, b);
    double s = time_it([&] { eval(add(a, b)); }, 20);
    std::printf("add f32 (2^26): %.0f GB/s\n", 3.0 * n * 4 / s / 1e9);
  }
  {
    const int Lk = 4096;
    auto q = astype(random_array({1, 32, 1, 128}, float32, -1, 1, 7), bfloat16);
    auto k = astype(random_array({1, 8, Lk, 128}, float32, -1, 1, 8), bfloat16);
    auto v = astype(random_array({1, 8, Lk, 128}, float32, -1, 1, 9), bfloat16);
    eval(q, k, v);
    double s = time_it([&] { eval(fast::scaled_dot_product_attention(q, k, v, 0.088f)); }, 20);
    std::printf("sdpa decode Lk=4096 GQA 32/8 bf16: %.1f us, %.0f GB/s\n", s * 1e6, 2.0 * 8 * Lk * 128 * 2 / s / 1e9);
  }
}
