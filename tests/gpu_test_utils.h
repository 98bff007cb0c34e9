// Shared pieces of the GPU test files (tessera_gpu_tests): a fixture that requires a visible GPU and
// makes it the default device, a CUDA-event timer, and random attention inputs.
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include "tessera/device.h"
#include "tessera/ops.h"
#include "test_utils.h"

namespace tessera::testing {

// Each GPU test file derives its suite's fixture from this one (class GpuX : public GpuTest {}).
class GpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(is_available(Device::gpu)) << "tessera_gpu_tests needs a visible CUDA GPU.";
    set_default_device(Device::gpu);
  }
};

// Milliseconds per call of f on the legacy default stream (CUDA events: kernel time, no host work),
// after one warm-up call.
template <typename F>
float kernel_ms(F&& f, int reps) {
  f();
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  cudaEventRecord(e0, nullptr);
  for (int i = 0; i < reps; ++i) f();
  cudaEventRecord(e1, nullptr);
  cudaEventSynchronize(e1);
  float ms = 0;
  cudaEventElapsedTime(&ms, e0, e1);
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  return ms / reps;
}

struct AttentionInputs {
  array q, k, v;
};

// Random attention inputs in [-1, 1) (seeds seed .. seed + 4), evaluated: q (B, Hq, Lq, D), k/v
// (B, Hkv, Lk, D). strided: q is a transposed (B, Lq, Hq, D) array and k/v are rows
// [offset, offset + Lk) of a cache buffer of Lk + extra rows (KV-cache views).
inline AttentionInputs random_attention_inputs(Dtype dt, int B, int Hq, int Hkv, int Lq, int Lk, int D, bool strided,
                                               unsigned seed, int offset, int extra) {
  array q = strided ? transpose(random_array({B, Lq, Hq, D}, dt, -1, 1, seed), {0, 2, 1, 3})
                    : random_array({B, Hq, Lq, D}, dt, -1, 1, seed);
  array k = random_array({B, Hkv, Lk, D}, dt, -1, 1, seed + 1);
  array v = random_array({B, Hkv, Lk, D}, dt, -1, 1, seed + 2);
  if (strided) {
    const int cap = Lk + extra;
    array kc = random_array({B, Hkv, cap, D}, dt, -1, 1, seed + 3);
    array vc = random_array({B, Hkv, cap, D}, dt, -1, 1, seed + 4);
    kc = slice_update(kc, k, {0, 0, offset, 0}, {B, Hkv, offset + Lk, D});
    vc = slice_update(vc, v, {0, 0, offset, 0}, {B, Hkv, offset + Lk, D});
    eval(kc, vc);
    k = slice(kc, {0, 0, offset, 0}, {B, Hkv, offset + Lk, D});
    v = slice(vc, {0, 0, offset, 0}, {B, Hkv, offset + Lk, D});
  }
  eval(q, k, v);
  return {q, k, v};
}

}  // namespace tessera::testing
