// GPU tests of the second round of fast paths (binary tessera_gpu_tests): one kernel per unary op
// (16-bit exp/sigmoid through exp2), 16-bit softmax rows held 4 packs a thread, the few-row
// tensor-core GEMV kernel and the autotuned few-row bf16/f16 matmul (cuBLAS vs cuBLASLt candidates
// vs the GEMV), each against the CPU backend or float64; DISABLED_Timings
// (--gtest_also_run_disabled_tests) prints the RESULTS.md shapes against a copy.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <string>

#include "gpu_perf_refs.h"
#include "tessera/backend/cuda/gemv_bf16.h"
#include "tessera/backend/gpu.h"
#include "gpu_test_utils.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::testing;

namespace {

class GpuPerf2 : public tessera::testing::GpuTest {};

const char* dname(Dtype d) { return d == float32 ? "f32" : d == float16 ? "f16" : "bf16"; }

// Relative tolerance of one rounding in d (float32: a few ulps between the CUDA and CPU libraries).
double tol(Dtype d) { return d == bfloat16 ? 8e-3 : d == float16 ? 1e-3 : 4e-6; }

using UnaryFn = std::function<array(const array&, StreamOrDevice)>;

struct UnaryCase {
  const char* name;
  UnaryFn f;
  double lo, hi;  // input range
};

std::vector<UnaryCase> unary_cases() {
  return {
      {"abs", [](const array& x, StreamOrDevice s) { return abs(x, s); }, -2, 2},
      {"negative", [](const array& x, StreamOrDevice s) { return negative(x, s); }, -2, 2},
      {"square", [](const array& x, StreamOrDevice s) { return square(x, s); }, -2, 2},
      {"exp", [](const array& x, StreamOrDevice s) { return exp(x, s); }, -10, 10},
      {"expm1", [](const array& x, StreamOrDevice s) { return expm1(x, s); }, -2, 2},
      {"log", [](const array& x, StreamOrDevice s) { return log(x, s); }, 0.1, 4},
      {"log1p", [](const array& x, StreamOrDevice s) { return log1p(x, s); }, 0.1, 4},
      {"log2", [](const array& x, StreamOrDevice s) { return log2(x, s); }, 0.1, 4},
      {"log10", [](const array& x, StreamOrDevice s) { return log10(x, s); }, 0.1, 4},
      {"sqrt", [](const array& x, StreamOrDevice s) { return sqrt(x, s); }, 0.1, 4},
      {"rsqrt", [](const array& x, StreamOrDevice s) { return rsqrt(x, s); }, 0.1, 4},
      {"reciprocal", [](const array& x, StreamOrDevice s) { return reciprocal(x, s); }, 0.1, 4},
      {"sin", [](const array& x, StreamOrDevice s) { return sin(x, s); }, -3, 3},
      {"cos", [](const array& x, StreamOrDevice s) { return cos(x, s); }, -3, 3},
      {"tan", [](const array& x, StreamOrDevice s) { return tan(x, s); }, -1.2, 1.2},
      {"tanh", [](const array& x, StreamOrDevice s) { return tanh(x, s); }, -3, 3},
      {"sigmoid", [](const array& x, StreamOrDevice s) { return sigmoid(x, s); }, -12, 12},
      {"erf", [](const array& x, StreamOrDevice s) { return erf(x, s); }, -2, 2},
      {"floor", [](const array& x, StreamOrDevice s) { return floor(x, s); }, -5, 5},
      {"ceil", [](const array& x, StreamOrDevice s) { return ceil(x, s); }, -5, 5},
      {"sign", [](const array& x, StreamOrDevice s) { return sign(x, s); }, -2, 2},
      {"sinh", [](const array& x, StreamOrDevice s) { return sinh(x, s); }, -3, 3},
      {"cosh", [](const array& x, StreamOrDevice s) { return cosh(x, s); }, -3, 3},
      {"arctan", [](const array& x, StreamOrDevice s) { return arctan(x, s); }, -3, 3},
  };
}

// f(x) on the GPU equals f(x) on the CPU within rtol (atol 1e-6).
::testing::AssertionResult unary_matches_cpu(const UnaryFn& f, const array& x, double rtol) {
  array g = f(x, Device::gpu);
  array c = f(x, Device::cpu);
  eval(g, c);
  if (g.dtype() != c.dtype() || g.shape() != c.shape()) return ::testing::AssertionFailure() << "dtype/shape differ";
  return all_close(g, c.to_vector<double>(), rtol, 1e-6);
}

}  // namespace

TEST_F(GpuPerf2, EveryUnaryOpEveryFloatTypeAgainstCpu) {
  // Sizes: below one pack, a pack and a tail, several unrolled packs per thread with a tail, and a
  // view 1 element into its buffer (unaligned: the per-element loop of the same kernel).
  for (auto& c : unary_cases()) {
    for (Dtype d : {float32, float16, bfloat16}) {
      for (int n : {1, 9, 4097, (1 << 20) + 5}) {
        SCOPED_TRACE(std::string(c.name) + " " + dname(d) + " n=" + std::to_string(n));
        auto x = random_array({n}, d, c.lo, c.hi, 41 + n % 7);
        eval(x);
        EXPECT_TRUE(unary_matches_cpu(c.f, x, tol(d)));
      }
      SCOPED_TRACE(std::string(c.name) + " " + dname(d) + " misaligned view");
      auto big = random_array({1 + 3001}, d, c.lo, c.hi, 43);
      auto v = slice(big, {1}, {3002});
      EXPECT_TRUE(unary_matches_cpu(c.f, v, tol(d)));
    }
  }
}

TEST_F(GpuPerf2, HalfExpAndSigmoidSpecialValues) {
  // Overflow, underflow to subnormals and zero, infinities and NaN through the exp2 fast path.
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> v = {0, 1, -1, 88, 89, 100, -87, -95, -100, -110, -200, inf, -inf, nan, 11, -17, 0.5, 1e-3};
  for (Dtype d : {float16, bfloat16}) {
    SCOPED_TRACE(dname(d));
    auto x = astype(array(v, {static_cast<int>(v.size())}, float64), d);
    eval(x);
    auto xs = x.to_vector<double>();
    std::vector<double> e(xs.size()), sg(xs.size());
    for (size_t i = 0; i < xs.size(); ++i) {
      e[i] = std::exp(xs[i]);
      sg[i] = 1.0 / (1.0 + std::exp(-xs[i]));
    }
    // Results past the dtype's range are inf in both; values below 1e-6 compare absolutely.
    auto ed = astype(array(e, {static_cast<int>(e.size())}, float64), d).to_vector<double>();
    EXPECT_TRUE(all_close(exp(x), ed, tol(d), 1e-6));
    EXPECT_TRUE(all_close(sigmoid(x), sg, tol(d), 1e-6));
  }
}

TEST_F(GpuPerf2, HalfSoftmaxRowsAgainstFloat64) {
  struct Case {
    int rows, d;
    Dtype dt;
  };
  // 16-bit rows of 128+ packs take 4 packs a thread (4096: the benchmark shape; 2056: a partial
  // last warp); 1024 (128 packs, row_plan's 1 a thread), 4104 (row_plan's own 4), 3000 (not
  // whole packs of 8: the per-element kernel), and float32 rows for the unchanged expf path.
  const Case cases[] = {{5, 4096, bfloat16}, {3, 4096, float16}, {4, 2056, bfloat16}, {3, 1024, float16},
                        {2, 4104, bfloat16}, {2, 3000, float16}, {3, 4096, float32}};
  for (auto& c : cases) {
    SCOPED_TRACE("rows " + std::to_string(c.rows) + " d " + std::to_string(c.d) + " " + dname(c.dt));
    auto x = random_array({c.rows, c.d}, c.dt, -8, 8, 47);
    eval(x);
    auto xv = x.to_vector<double>();
    EXPECT_TRUE(all_close(softmax(x, -1), ref_softmax(xv, c.rows, c.d, false), 2 * tol(c.dt), 1e-7));
    EXPECT_TRUE(all_close(log_softmax(x, -1), ref_softmax(xv, c.rows, c.d, true), 2 * tol(c.dt), 1e-4));
  }
  // Masked rows: -inf entries (an attention mask) and large logits (exp of x - max only).
  for (Dtype d : {bfloat16, float16}) {
    SCOPED_TRACE(std::string("masked ") + dname(d));
    const int rows = 3, n = 4096;
    auto base = random_array({rows, n}, float32, -4, 4, 48).to_vector<double>();
    for (int r = 0; r < rows; ++r)
      for (int j = 0; j < n; ++j) {
        if (j > (r + 1) * 1000) base[r * n + j] = -std::numeric_limits<double>::infinity();
        if (r == 2 && j < 1000) base[r * n + j] += 60000.0 * (d == float16 ? 0 : 1);  // bf16: |x| ~ 6e4
      }
    auto x = astype(array(base, {rows, n}, float64), d);
    eval(x);
    auto xv = x.to_vector<double>();
    EXPECT_TRUE(all_close(softmax(x, -1), ref_softmax(xv, rows, n, false), 2 * tol(d), 1e-7));
    EXPECT_TRUE(all_close(log_softmax(x, -1), ref_softmax(xv, rows, n, true), 2 * tol(d), 1e-4 * 8));
  }
}

TEST_F(GpuPerf2, FewRowMatmulAutotunedAgainstFloat64) {
  // Decode shapes M = 1..16 (autotuned on first use: cuBLAS vs cuBLASLt candidates), weights used
  // transposed in place (x @ W.T) and not, odd K and N, a strided left operand, and a second call
  // of each shape (the cached choice).
  for (Dtype d : {bfloat16, float16}) {
    const int K = 1031, N = 777;
    auto w = random_array({N, K}, d, -1, 1, 51);
    auto wk = random_array({K, N}, d, -1, 1, 52);
    eval(w, wk);
    auto wt = transpose(w);
    auto wtv = wt.to_vector<double>(), wkv = wk.to_vector<double>();
    for (int M = 1; M <= 16; ++M) {
      SCOPED_TRACE(std::string(dname(d)) + " M=" + std::to_string(M));
      auto x = random_array({M, K}, d, -1, 1, 53 + M);
      eval(x);
      auto xv = x.to_vector<double>();
      double atol = 2e-3 * std::sqrt(double(K));
      auto ref = ref_bmm(xv, wtv, 1, M, K, N, false);
      for (int rep = 0; rep < 2; ++rep) EXPECT_TRUE(all_close(matmul(x, wt), ref, tol(d), atol));
      EXPECT_TRUE(all_close(matmul(x, wk), ref_bmm(xv, wkv, 1, M, K, N, false), tol(d), atol));
    }
    // Strided left operand: every other row of a (2M, K + 5) buffer, columns 3..K+3.
    auto big = random_array({32, K + 5}, d, -1, 1, 70);
    auto xs = slice(big, {0, 3}, {32, K + 3}, {2, 1});
    eval(xs);
    EXPECT_TRUE(all_close(matmul(xs, wt), ref_bmm(xs.to_vector<double>(), wtv, 1, 16, K, N, false), tol(d),
                          2e-3 * std::sqrt(double(K))));
  }
  // The benchmark shape at M = 1 and 16 (K = 4096, N = 11008).
  const int K = 4096, N = 11008;
  auto w = random_array({N, K}, bfloat16, -1, 1, 60);
  eval(w);
  auto wtv = transpose(w).to_vector<double>();
  for (int M : {1, 16}) {
    SCOPED_TRACE("4096 x 11008 M=" + std::to_string(M));
    auto x = random_array({M, K}, bfloat16, -1, 1, 61);
    eval(x);
    EXPECT_TRUE(all_close(matmul(x, transpose(w)), ref_bmm(x.to_vector<double>(), wtv, 1, M, K, N, false),
                          tol(bfloat16), 2e-3 * std::sqrt(double(K))));
  }
}

TEST_F(GpuPerf2, TensorCoreGemvKernelAgainstFloat64) {
  // The kernel called directly (matmul picks it only where it timed faster): M across one and two
  // n8 tiles, N not a multiple of 16, K not a multiple of the 32-column step, x and W rows farther
  // apart than K (row strides ldx, ldw).
  struct Case {
    int M, N, K, xpad, wpad;
  };
  const Case cases[] = {{1, 777, 1032, 0, 0}, {3, 777, 1032, 8, 16}, {8, 33, 4104, 0, 8}, {9, 100, 256, 8, 0},
                        {16, 11008, 4096, 0, 0}, {1, 5, 8, 0, 0},   {16, 17, 40, 16, 8},  {12, 4096, 1000, 0, 0}};
  for (Dtype d : {bfloat16, float16}) {
    int code = d == bfloat16 ? 10 : 9;  // kernels.h dt_bf16 / dt_f16
    for (auto& c : cases) {
      SCOPED_TRACE(std::string(dname(d)) + " M=" + std::to_string(c.M) + " N=" + std::to_string(c.N) +
                   " K=" + std::to_string(c.K));
      auto xb = random_array({c.M, c.K + c.xpad}, d, -1, 1, 80);
      auto wb = random_array({c.N, c.K + c.wpad}, d, -1, 1, 81);
      auto x = slice(xb, {0, 0}, {c.M, c.K});
      auto w = slice(wb, {0, 0}, {c.N, c.K});
      auto out = astype(random_array({c.M, c.N}, float32, -1, 1, 82), d);  // its own buffer
      eval(x, w, out);
      ASSERT_TRUE(cuda::gemv_half_supported(code, c.M, c.N, c.K, x.device_data(), c.K + c.xpad, w.device_data(),
                                            c.K + c.wpad, out.device_data()));
      ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
      cuda::gemv_half(code, x.device_data(), c.K + c.xpad, w.device_data(), c.K + c.wpad, out.device_data(), c.M,
                      c.N, c.K, nullptr);
      ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
      out.mark_device_written();
      auto ref = ref_bmm(x.to_vector<double>(), transpose(w).to_vector<double>(), 1, c.M, c.K, c.N, false);
      EXPECT_TRUE(all_close(out, ref, tol(d), 2e-3 * std::sqrt(double(c.K))));
    }
  }
  // Declined: M > 16, K not a multiple of 8, unaligned pointers, float32.
  auto a = random_array({64, 64}, bfloat16, -1, 1, 83);
  eval(a);
  void* p = a.device_data();
  EXPECT_FALSE(cuda::gemv_half_supported(10, 17, 64, 64, p, 64, p, 64, p));
  EXPECT_FALSE(cuda::gemv_half_supported(10, 4, 64, 60, p, 64, p, 64, p));
  EXPECT_FALSE(cuda::gemv_half_supported(10, 4, 64, 64, static_cast<char*>(p) + 2, 64, p, 64, p));
  EXPECT_FALSE(cuda::gemv_half_supported(10, 4, 64, 64, p, 60, p, 64, p));
  EXPECT_FALSE(cuda::gemv_half_supported(11, 4, 64, 64, p, 64, p, 64, p));
  EXPECT_TRUE(cuda::gemv_half_supported(10, 4, 64, 64, p, 64, p, 64, p));
}

namespace {

// Median seconds per op(): batches of `reps` results evaluated together, events on the legacy
// default stream (which the tessera streams wait for and are waited for by).
double median_seconds(const std::function<void(int)>& batch, int reps) {
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  batch(1);
  cudaDeviceSynchronize();
  std::vector<double> t;
  for (int b = 0; b < 7; ++b) {
    cudaEventRecord(e0, nullptr);
    batch(reps);
    cudaEventRecord(e1, nullptr);
    cudaEventSynchronize(e1);
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    t.push_back(ms * 1e-3 / reps);
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

double time_op(const std::function<array()>& op, int reps) {
  return median_seconds(
      [&](int n) {
        std::vector<array> outs;
        for (int i = 0; i < n; ++i) outs.push_back(op());
        eval(outs);
      },
      reps);
}

}  // namespace

TEST_F(GpuPerf2, DISABLED_Timings) {
  const size_t copy_bytes = size_t(512) << 20;
  void *src = nullptr, *dst = nullptr;
  ASSERT_EQ(cudaMalloc(&src, copy_bytes), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&dst, copy_bytes), cudaSuccess);
  cudaMemset(src, 1, copy_bytes);
  double copy_gbs = 2.0 * copy_bytes / median_seconds(
                                           [&](int n) {
                                             for (int i = 0; i < n; ++i)
                                               cudaMemcpyAsync(dst, src, copy_bytes, cudaMemcpyDeviceToDevice, nullptr);
                                           },
                                           10) /
                    1e9;
  cudaFree(src);
  cudaFree(dst);
  std::printf("\n| case | median us | rate | of copy |\n|---|---|---|---|\n");
  std::printf("| device-to-device copy | - | %.0f GB/s | 1.00 |\n", copy_gbs);
  auto bw = [&](const std::string& name, double bytes, double s) {
    double gbs = bytes / s / 1e9;
    std::printf("| %s | %.1f | %.0f GB/s | %.2f |\n", name.c_str(), s * 1e6, gbs, gbs / copy_gbs);
  };
  const int n = 1 << 26;
  for (Dtype d : {float32, bfloat16, float16}) {
    auto a = random::normal({n}, d);
    auto b = random::normal({n}, d);
    eval(a, b);
    std::string dn = dname(d);
    bw("add " + dn + " 2^26", 3.0 * n * d.size, time_op([&] { return add(a, b); }, 20));
    bw("exp " + dn + " 2^26", 2.0 * n * d.size, time_op([&] { return exp(a); }, 20));
    bw("sigmoid " + dn + " 2^26", 2.0 * n * d.size, time_op([&] { return sigmoid(a); }, 20));
    bw("tanh " + dn + " 2^26", 2.0 * n * d.size, time_op([&] { return tanh(a); }, 20));
  }
  {
    const int R = 8192, D = 4096;
    auto x = random::normal({R, D}, bfloat16);
    auto w = random::normal({D}, bfloat16);
    eval(x, w);
    bw("rms_norm bf16 (8192, 4096)", 2.0 * R * D * 2 + D * 2, time_op([&] { return fast::rms_norm(x, w, 1e-5f); }, 20));
    bw("softmax bf16 (8192, 4096)", 2.0 * R * D * 2, time_op([&] { return softmax(x, -1); }, 20));
    bw("log_softmax bf16 (8192, 4096)", 2.0 * R * D * 2, time_op([&] { return log_softmax(x, -1); }, 20));
    auto xh = astype(x, float16);
    eval(xh);
    bw("softmax f16 (8192, 4096)", 2.0 * R * D * 2, time_op([&] { return softmax(xh, -1); }, 20));
  }
  {
    // Autotune choices print to stderr with TESSERA_GEMM_AUTOTUNE=2.
    const int K = 4096, N = 11008;
    auto w = random::normal({N, K}, bfloat16);
    eval(w);
    for (int M : {1, 2, 4, 8, 16, 512}) {
      auto x = random::normal({M, K}, bfloat16);
      eval(x);
      double s = time_op([&] { return matmul(x, transpose(w)); }, 20);
      double bytes = 2.0 * (double(N) * K + double(M) * K + double(M) * N);
      std::string name = "bf16 x @ W.T M=" + std::to_string(M) + " K=4096 N=11008";
      if (M <= 16) {
        bw(name, bytes, s);
        // The GEMV kernel alone (matmul uses it only where it timed faster than the library).
        auto out = astype(random::normal({M, N}, float32), bfloat16);
        eval(out);
        double sk = median_seconds(
            [&](int reps) {
              for (int i = 0; i < reps; ++i)
                cuda::gemv_half(10, x.device_data(), K, w.device_data(), K, out.device_data(), M, N, K, nullptr);
            },
            20);
        bw("  gemv kernel alone, M=" + std::to_string(M), bytes, sk);
      } else {
        std::printf("| %s | %.1f | %.0f TFLOP/s | - |\n", name.c_str(), s * 1e6, 2.0 * M * N * K / s / 1e12);
      }
    }
  }
}
