// Quantized KV cache on the GPU (tessera_gpu_tests): batched quantized_matmul (one launch over all
// batch entries; cache views, broadcasting, misaligned rows) and quantized attention (transpose true
// and false, odd key counts, GQA, padding of head_dim) and a model's decode logits through a quantized
// cache, against the same computation on the CPU; decode step and kernel timings.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include "tessera/fast.h"
#include "tessera/lm/hf_model.h"
#include "tessera/lm/kv_cache.h"
#include "tessera/lm/quantized_attention.h"
#include "gpu_test_utils.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::lm;
using tessera::testing::random_array;

namespace {

// quantized_attention of fixed random inputs on `device`, returned as float32 on the host.
std::vector<float> attention_on(Device device, int D, int bits, int T0, int L, Dtype dt) {
  set_default_device(device);
  const int B = 2, Hq = 8, Hkv = 2;
  KVCache c(1);
  c.set_quantization(bits, 64, 0);
  c.update_and_fetch_quantized(0, random_array({B, Hkv, T0, D}, dt, -2, 2, 1), random_array({B, Hkv, T0, D}, dt, -2, 2, 2));
  auto kv = c.update_and_fetch_quantized(0, random_array({B, Hkv, L, D}, dt, -2, 2, 3),
                                         random_array({B, Hkv, L, D}, dt, -2, 2, 4));
  const int T = T0 + L;
  array q = random_array({B, Hq, L, D}, dt, -1, 1, 5);
  std::optional<array> mask;
  if (L > 1) mask = reshape(arange(0, T), {1, T}) <= reshape(arange(T - L, T), {L, 1});
  array out = astype(quantized_attention(q, kv, 0.125f, mask), float32);
  eval(out);
  auto v = out.to_vector<float>();
  set_default_device(Device::cpu);
  return v;
}

}  // namespace

namespace {

// A batched quantized_matmul case: weights (B, H, R, C) (rows [off, off + R) of a buffer of R + extra
// rows when extra > 0: a cache view), x (xB, H, M, K) with xB 1 (broadcast) or B.
struct BatchedCase {
  int B, H, xB, M, T, D;  // T: keys (N of the scores, K of the values); D: head dim
  bool transpose;
  int bits, gs;
  Dtype dt;
  int extra;
};

std::vector<float> batched_on(Device device, const BatchedCase& c) {
  set_default_device(device);
  const int R = c.T, C = c.D;  // keys and values are both stored (T, D): W (N, K) for scores, (K, N) for values
  const int K = c.transpose ? c.D : c.T;
  auto q = quantize(random_array({c.B, c.H, R + c.extra, C}, c.dt, -2, 2, 11), c.gs, c.bits);
  if (c.extra > 0) {
    for (auto& a : q) a = slice(a, {0, 0, c.extra / 2, 0}, {c.B, c.H, c.extra / 2 + R, a.shape(3)});
  }
  array x = random_array({c.xB, c.H, c.M, K}, c.dt, -1, 1, 12);
  array y = astype(quantized_matmul(x, q[0], q[1], q[2], c.transpose, c.gs, c.bits), float32);
  eval(y);
  auto v = y.to_vector<float>();
  set_default_device(Device::cpu);
  return v;
}

std::string describe(const BatchedCase& c) {
  return "B " + std::to_string(c.B) + " H " + std::to_string(c.H) + " xB " + std::to_string(c.xB) + " M " +
         std::to_string(c.M) + " T " + std::to_string(c.T) + " D " + std::to_string(c.D) +
         (c.transpose ? " scores" : " values") + " bits " + std::to_string(c.bits) + " gs " + std::to_string(c.gs) +
         " " + dtype_name(c.dt) + " extra " + std::to_string(c.extra);
}

}  // namespace

TEST(GpuKVQuant, BatchedQuantizedMatmulMatchesCpu) {
  ASSERT_TRUE(is_available(Device::gpu)) << "tessera_gpu_tests needs a visible CUDA GPU.";
  std::vector<BatchedCase> cases;
  for (bool t : {true, false}) {
    for (Dtype dt : {float32, float16, bfloat16}) {
      for (int bits : {2, 3, 4, 5, 6, 8}) {
        cases.push_back({2, 4, 2, 4, 300, 128, t, bits, 64, dt, 40});  // decode GQA rows over a cache view
      }
      cases.push_back({1, 8, 1, 1, 77, 64, t, 8, 32, dt, 0});        // one row, odd key count
      cases.push_back({2, 3, 1, 8, 129, 64, t, 4, 64, dt, 6});       // x broadcast over the batch
      cases.push_back({2, 2, 2, 40, 96, 128, t, 4, 128, dt, 0});     // prefill rows: per-entry GEMM
      cases.push_back({2, 2, 2, 12, 70, 64, t, 3, 64, dt, 2});       // 3-bit rows of 24 bytes: misaligned
      cases.push_back({1, 2, 1, 5, 4096, 128, t, 8, 64, dt, 0});     // long context
    }
  }
  for (const auto& c : cases) {
    auto cpu = batched_on(Device::cpu, c);
    auto gpu = batched_on(Device::gpu, c);
    ASSERT_EQ(cpu.size(), gpu.size()) << describe(c);
    double worst = 0, mag = 0;
    for (size_t i = 0; i < cpu.size(); ++i) {
      worst = std::max(worst, static_cast<double>(std::abs(cpu[i] - gpu[i])));
      mag = std::max(mag, static_cast<double>(std::abs(cpu[i])));
    }
    EXPECT_LE(worst, (c.dt == float32 ? 2e-5 : 1e-2) * std::max(mag, 1.0)) << describe(c);
  }
}

// GPU time (CUDA events around eval) of the batched decode products against the per-head 2-D calls they
// replace (bf16); MB: packed weights + scales + biases + x + out, GB/s of the batched call.
TEST(GpuKVQuant, DISABLED_BatchedTimings) {
  ASSERT_TRUE(is_available(Device::gpu)) << "tessera_gpu_tests needs a visible CUDA GPU.";
  set_default_device(Device::gpu);
  std::printf("[ GpuKVQuant ] batched quantized_matmul, bf16, B 1, 8 KV heads, 4 rows (GQA decode):\n");
  std::printf("  %-7s %5s %4s %4s | %9s %9s | %8s %8s\n", "product", "T", "D", "bits", "batched", "per-head",
              "MB", "GB/s");
  const int B = 1, H = 8, M = 4;
  for (int T : {4096, 32768}) {
    for (int D : {64, 128}) {
      for (int bits : {8, 4}) {
        auto kq = quantize(random_array({B, H, T, D}, bfloat16, -2, 2, 1), 64, bits);
        for (auto& a : kq) eval(a);
        for (bool t : {true, false}) {
          array x = random_array({B, H, M, t ? D : T}, bfloat16, -1, 1, 2);
          eval(x);
          auto batched = [&] { eval(quantized_matmul(x, kq[0], kq[1], kq[2], t, 64, bits)); };
          auto per_head = [&] {
            std::vector<array> outs;
            for (int h = 0; h < H; ++h) {
              auto at = [&](const array& a) {
                return reshape(slice(a, {0, h, 0, 0}, {1, h + 1, a.shape(2), a.shape(3)}), {a.shape(2), a.shape(3)});
              };
              outs.push_back(quantized_matmul(at(x), at(kq[0]), at(kq[1]), at(kq[2]), t, 64, bits));
            }
            eval(stack(outs, 0));
          };
          const float ms = tessera::testing::kernel_ms(batched, 20), ms_old = tessera::testing::kernel_ms(per_head, 20);
          const double bytes = static_cast<double>(kq[0].nbytes() + kq[1].nbytes() + kq[2].nbytes() + x.nbytes()) +
                               2.0 * B * H * M * (t ? T : D);
          std::printf("  %-7s %5d %4d %4d | %7.1f us %7.1f us | %8.2f %8.0f\n", t ? "scores" : "values", T, D, bits,
                      ms * 1e3, ms_old * 1e3, bytes / 1e6, bytes / (ms * 1e-3) / 1e9);
        }
      }
    }
  }
  set_default_device(Device::cpu);
}

TEST(GpuKVQuant, QuantizedAttentionMatchesCpu) {
  ASSERT_TRUE(is_available(Device::gpu)) << "tessera_gpu_tests needs a visible CUDA GPU.";
  for (Dtype dt : {float32, float16}) {
    for (int D : {64, 128, 80}) {       // 80: padded to 128
      for (int bits : {4, 8}) {
        for (auto [T0, L] : {std::pair{37, 1}, std::pair{0, 9}, std::pair{300, 1}, std::pair{130, 33}}) {
          auto cpu = attention_on(Device::cpu, D, bits, T0, L, dt);
          auto gpu = attention_on(Device::gpu, D, bits, T0, L, dt);
          ASSERT_EQ(cpu.size(), gpu.size());
          double worst = 0;
          for (size_t i = 0; i < cpu.size(); ++i) worst = std::max(worst, static_cast<double>(std::abs(cpu[i] - gpu[i])));
          EXPECT_LT(worst, dt == float32 ? 2e-4 : 2e-2)
              << dtype_name(dt) << " D " << D << " bits " << bits << " T0 " << T0 << " L " << L;
        }
      }
    }
  }
}

TEST(GpuKVQuant, ModelDecodeThroughQuantizedCacheMatchesCpu) {
  ASSERT_TRUE(is_available(Device::gpu)) << "tessera_gpu_tests needs a visible CUDA GPU.";
  HFLoadOptions o;
  o.load_tokenizer = false;
  auto run = [&](Device device) {
    set_default_device(device);
    auto m = load_hf_model(std::string(TESSERA_SOURCE_DIR) + "/tests/fixtures/hf_models/llama", o).model;
    KVCache c(m->num_layers());
    c.set_quantization(8, 32, 4);  // switches after the prompt's first step
    std::vector<array> out;
    out.push_back(m->forward(array(std::vector<int32_t>{1, 17, 29, 5, 88}, {1, 5}, int32), &c));
    for (int32_t t : {3, 9, 27, 81, 100, 7, 64}) out.push_back(m->forward(array(std::vector<int32_t>{t}, {1, 1}, int32), &c));
    std::vector<float> all;
    for (auto& a : out) {
      eval(a);
      auto v = a.to_vector<float>();
      all.insert(all.end(), v.begin(), v.end());
    }
    set_default_device(Device::cpu);
    return all;
  };
  auto cpu = run(Device::cpu);
  auto gpu = run(Device::gpu);
  ASSERT_EQ(cpu.size(), gpu.size());
  double worst = 0;
  for (size_t i = 0; i < cpu.size(); ++i) worst = std::max(worst, static_cast<double>(std::abs(cpu[i] - gpu[i])));
  std::printf("[ GpuKVQuant ] max |logit diff| GPU vs CPU: %.3g\n", worst);
  EXPECT_LT(worst, 1e-3);
}

// Decode timing of a random 1b-shaped model, 4k context, full-precision vs 8/4-bit KV cache (bf16).
TEST(GpuKVQuant, DecodeTiming) {
  ASSERT_TRUE(is_available(Device::gpu)) << "tessera_gpu_tests needs a visible CUDA GPU.";
  set_default_device(Device::gpu);
  const int B = 1, Hq = 32, Hkv = 8, D = 64, T = 4096, layers = 16;
  array q = random_array({B, Hq, 1, D}, bfloat16, -1, 1, 5);
  size_t full_bytes = 0;
  for (int bits : {0, 8, 4}) {
    KVCache c(layers, T + 64);
    if (bits) c.set_quantization(bits, 64, 0);
    for (int l = 0; l < layers; ++l) {
      c.update_and_fetch(l, random_array({B, Hkv, T, D}, bfloat16, -2, 2, l), random_array({B, Hkv, T, D}, bfloat16, -2, 2, l + 99));
    }
    auto step = [&] {
      std::vector<array> outs;
      for (int l = 0; l < layers; ++l) {
        array k = random_array({B, Hkv, 1, D}, bfloat16, -2, 2, 7), v = k;
        if (bits) {
          outs.push_back(quantized_attention(q, c.update_and_fetch_quantized(l, k, v), 0.125f, std::nullopt));
        } else {
          auto [kk, vv] = c.update_and_fetch(l, k, v);
          outs.push_back(fast::scaled_dot_product_attention(q, kk, vv, 0.125f, ""));
        }
      }
      eval(outs);
      synchronize();
    };
    step();
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 20; ++i) step();
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / 20;
    std::printf("[ GpuKVQuant ] kv-bits %d: %d layers x attention over %d keys: %.3f ms/step, cache %.1f MB\n", bits,
                layers, T, ms, c.nbytes() / 1e6);
    if (bits == 0) full_bytes = c.nbytes();
    // (bits + 2 * 16 / 64) / 16 of the bfloat16 cache.
    if (bits > 0) {
      EXPECT_EQ(c.nbytes(), static_cast<size_t>(full_bytes * (bits + 0.5) / 16));
    }
  }
}
