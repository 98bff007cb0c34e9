// Quantized KV cache on the GPU (tessera_gpu_tests): quantized attention (per-head quantized_matmul with
// transpose true and false, odd key counts, GQA, padding of head_dim) and a model's decode logits through
// a quantized cache, against the same computation on the CPU.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include "tessera/fast.h"
#include "tessera/lm/hf_model.h"
#include "tessera/lm/kv_cache.h"
#include "tessera/lm/quantized_attention.h"
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
