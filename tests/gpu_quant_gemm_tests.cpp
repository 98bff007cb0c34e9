// Quantized prefill GEMM by dequantization (tessera_gpu_tests): affine (every bits / group size,
// f32/f16/bf16 x, W (N, K) and (K, N)) and GGUF (every GPU type) quantized matmuls at M = 9, 16, 33,
// 512 against float64 dequantize-then-matmul references; several scratch chunks; the path taken
// (qmm_dequant_count); bad column ranges; DISABLED_ TFLOP/s timings against the dense bf16 GEMM.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "gpu_quant_test_utils.h"
#include "gpu_test_utils.h"
#include "tessera/backend/cuda/blaslt.h"
#include "tessera/backend/cuda/kernels_quantized.h"
#include "tessera/backend/cuda/runtime.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::testing;

namespace {

class GpuQuantGemm : public GpuTest {};

const int kBits[] = {2, 3, 4, 5, 6, 8};
const int kGroups[] = {32, 64, 128};
const int kRows[] = {9, 16, 33, 512};
const Dtype kFloats[] = {float32, float16, bfloat16};
const GGUFType kTypes[] = {GGUFType::Q4_0, GGUFType::Q4_1, GGUFType::Q8_0,
                           GGUFType::Q4_K, GGUFType::Q5_K, GGUFType::Q6_K};

// Tolerance (of sum |x w|). From kQuantDequantGemmMinRows rows: float32 products of W rounded once
// to x's dtype (exact for f32), the output rounded to x's dtype. Below: f16/bf16 x take the tiled
// kernel (x and W tiles in f16, or bf16 for bf16 x), f32 x the float32 GEMVs.
double tolerance(Dtype d, int64_t M) {
  const bool dequant = M >= cuda::kQuantDequantGemmMinRows;
  double compute = d == float32 ? (dequant ? 1e-5 : 5e-5) : d == float16 ? 2e-3 : (dequant ? 6e-3 : 1.2e-2);
  double out = d == float32 ? 0.0 : d == float16 ? 1e-3 : 8e-3;
  return compute + out;
}

// Sets the dequantize scratch bound for a scope.
struct ScratchBound {
  size_t old;
  explicit ScratchBound(size_t b) : old(cuda::set_qmm_dequant_scratch_bytes(b)) {}
  ~ScratchBound() { cuda::set_qmm_dequant_scratch_bytes(old); }
};

// One affine case through quantized_matmul on the GPU against the float64 reference, for each M of
// `rows`; the dequantize path must run exactly when M >= kQuantDequantGemmMinRows.
void check_affine(Dtype d, int bits, int gs, bool transpose, int64_t N, int64_t K,
                  const std::vector<int>& rows, unsigned seed) {
  Shape ws = transpose ? Shape{static_cast<ShapeElem>(N), static_cast<ShapeElem>(K)}
                       : Shape{static_cast<ShapeElem>(K), static_cast<ShapeElem>(N)};
  auto q = quantize(random_array(ws, d, -1, 1, seed), gs, bits, Device::cpu);
  eval(q);
  // W in float64 from the CPU dequantize of the dtype-d scales and biases (what the GPU reads).
  auto wv = host_values(dequantize(q[0], astype(q[1], float32, Device::cpu),
                                   astype(q[2], float32, Device::cpu), gs, bits, Device::cpu));
  for (int M : rows) {
    auto x = random_array({M, static_cast<ShapeElem>(K)}, d, -1, 1, seed + M);
    const size_t before = cuda::qmm_dequant_count();
    auto y = quantized_matmul(x, q[0], q[1], q[2], transpose, gs, bits, Device::gpu);
    eval(y);
    const bool took = cuda::qmm_dequant_count() > before;
    std::string what = std::string(dtype_name(d)) + " bits " + std::to_string(bits) + " gs " +
                       std::to_string(gs) + " transpose " + std::to_string(transpose) + " M " +
                       std::to_string(M) + " N " + std::to_string(N) + " K " + std::to_string(K);
    EXPECT_EQ(took, M >= cuda::kQuantDequantGemmMinRows) << what;
    ASSERT_EQ(y.shape(), (Shape{M, static_cast<ShapeElem>(N)})) << what;
    ASSERT_EQ(y.dtype(), d);
    std::vector<double> want, mag;
    ref_matmul(host_values(x), wv, M, K, N, transpose, want, mag);
    EXPECT_TRUE(close_scaled(y, want, mag, tolerance(d, M))) << what;
  }
}

}  // namespace

TEST_F(GpuQuantGemm, AffineEveryWidthGroupDtypeAndLayout) {
  std::vector<int> rows(std::begin(kRows), std::end(kRows));
  for (Dtype d : kFloats) {
    for (int bits : kBits) {
      for (int gs : kGroups) {
        for (bool transpose : {true, false}) {
          // Odd N for W (N, K); W (K, N) is packed along N (a multiple of gs), so K is odd there.
          const int64_t N = transpose ? 197 : 3 * gs, K = transpose ? 3 * gs : 197;
          check_affine(d, bits, gs, transpose, N, K, rows, bits * 1000 + gs * 10 + transpose);
        }
      }
    }
  }
}

TEST_F(GpuQuantGemm, AffineSeveralScratchChunks) {
  // A 20 KB bound: every case takes the smallest chunk, 128 indices of N (one step; 128 x 256 bf16
  // is already 64 KB): N = 700 -> 6 chunks with a short last one; W (K, N) splits N by columns.
  ScratchBound bound(20 << 10);
  for (Dtype d : {bfloat16, float32}) {
    check_affine(d, 4, 64, true, 700, 256, {40, 512}, 71);
    check_affine(d, 3, 128, true, 333, 384, {33}, 72);
    check_affine(d, 8, 32, false, 640, 99, {64}, 73);
    check_affine(d, 5, 128, false, 896, 130, {35}, 74);
  }
}

TEST_F(GpuQuantGemm, AffineBatchedInputThroughTheOp) {
  // x (2, 20, K): 40 rows in all take the dequantize path; compared with the CPU kernel.
  const int K = 512, N = 300, gs = 64;
  auto q = quantize(random_array({N, K}, float32, -1, 1, 81), gs, 4, Device::cpu);
  auto x = random_array({2, 20, K}, float32, -1, 1, 82);
  const size_t before = cuda::qmm_dequant_count();
  auto g = quantized_matmul(x, q[0], q[1], q[2], true, gs, 4, Device::gpu);
  eval(g);
  EXPECT_GT(cuda::qmm_dequant_count(), before);
  auto c = quantized_matmul(x, q[0], q[1], q[2], true, gs, 4, Device::cpu);
  ASSERT_EQ(g.shape(), (Shape{2, 20, N}));
  EXPECT_TRUE(all_close(g, host_values(c), 1e-4, 1e-4));
}

TEST_F(GpuQuantGemm, GGUFEveryTypeMatchesDequantizedReference) {
  for (auto t : kTypes) {
    const int N = 197, K = 768;
    auto b = random_gguf(t, N, K, 90 + static_cast<int>(t));
    auto wv = host_values(gguf_dequantize(b, t, {N, K}, Device::cpu));
    for (int M : kRows) {
      auto x = random_array({M, K}, float32, -1, 1, M * 7 + static_cast<int>(t));
      const size_t before = cuda::qmm_dequant_count();
      auto y = gguf_quantized_matmul(x, b, t, K, Device::gpu);
      eval(y);
      EXPECT_EQ(cuda::qmm_dequant_count() > before, M >= cuda::kQuantDequantGemmMinRows);
      ASSERT_EQ(y.shape(), (Shape{M, N}));
      std::vector<double> want, mag;
      ref_matmul(host_values(x), wv, M, K, N, true, want, mag);
      // float32 x and weights, float32 GEMM (no TF32) on the dequantize path; GEMVs below it.
      EXPECT_TRUE(close_scaled(y, want, mag, 5e-5)) << gguf_type_name(t) << " M " << M;
    }
  }
  ScratchBound bound(64 << 10);  // K = 768 floats: 3 KB per row -> chunks of 128 rows
  auto b = random_gguf(GGUFType::Q4_K, 300, 768, 99);
  auto wv = host_values(gguf_dequantize(b, GGUFType::Q4_K, {300, 768}, Device::cpu));
  auto x = random_array({64, 768}, float32, -1, 1, 98);
  auto y = gguf_quantized_matmul(x, b, GGUFType::Q4_K, 768, Device::gpu);
  std::vector<double> want, mag;
  ref_matmul(host_values(x), wv, 64, 768, 300, true, want, mag);
  EXPECT_TRUE(close_scaled(y, want, mag, 5e-5)) << "Q4_K in chunks";
}

TEST_F(GpuQuantGemm, DequantizeColumnsMatchesCpuAndRejectsBadRanges) {
  const int rows = 5, C = 256, gs = 64;
  for (Dtype d : {float32, bfloat16}) {
    for (int bits : kBits) {
      auto q = quantize(random_array({rows, C}, d, -1, 1, 100 + bits), gs, bits, Device::gpu);
      eval(q);
      auto full = host_values(dequantize(q[0], q[1], q[2], gs, bits, Device::cpu));
      const int c0 = 72, cols = 120;                       // off the groups and the 32-value chunks
      auto out = random_array({rows, cols}, d, -1, 1, 5);  // a buffer of its own
      eval(out);
      cuda::affine_dequantize_cols(static_cast<int>(d.val), static_cast<const uint32_t*>(q[0].device_data()),
                                   q[1].device_data(), q[2].device_data(), out.device_data(), rows, C, c0,
                                   cols, gs, bits, cuda::current_stream());
      ASSERT_EQ(cudaStreamSynchronize(cuda::current_stream()), cudaSuccess);
      out.mark_device_written();
      std::vector<double> want;
      for (int r = 0; r < rows; ++r)
        for (int c = c0; c < c0 + cols; ++c) want.push_back(full[r * C + c]);
      // The CPU's float multiply-add may round once more than the GPU's fma: one ulp of d.
      EXPECT_TRUE(all_close(out, want, d == float32 ? 1e-6 : 8e-3, 1e-6))
          << dtype_name(d) << " bits " << bits;
    }
  }
  auto q = quantize(random_array({2, 64}, float32, -1, 1, 3), 32, 4, Device::gpu);
  eval(q);
  auto out = random_array({2, 64}, float32, -1, 1, 6);
  eval(out);
  auto call = [&](int64_t C, int64_t c0, int64_t cols, int bits) {
    cuda::affine_dequantize_cols(
        static_cast<int>(float32.val), static_cast<const uint32_t*>(q[0].device_data()), q[1].device_data(),
        q[2].device_data(), out.device_data(), 2, C, c0, cols, 32, bits, cuda::current_stream());
  };
  EXPECT_THROW(call(64, 4, 8, 4), std::invalid_argument);    // c0 off 8
  EXPECT_THROW(call(64, 0, 12, 4), std::invalid_argument);   // cols off 8
  EXPECT_THROW(call(64, 32, 40, 4), std::invalid_argument);  // past C
  EXPECT_THROW(call(48, 0, 8, 4), std::invalid_argument);    // C off 32
  EXPECT_THROW(call(64, 0, 8, 7), std::invalid_argument);    // bits
  EXPECT_NO_THROW(call(64, 8, 56, 4));
  cuda::AffineWeight w{
      static_cast<const uint32_t*>(q[0].device_data()), q[1].device_data(), q[2].device_data(), 4, 32, true};
  EXPECT_THROW(cuda::affine_qmm_dequant(static_cast<int>(int32.val), w, out.device_data(), out.device_data(),
                                        2, 2, 64, cuda::current_stream()),
               std::invalid_argument);
  EXPECT_THROW(cuda::gguf_qmm_dequant(5, nullptr, nullptr, nullptr, 40, 2, 64, cuda::current_stream()),
               std::invalid_argument);
  // Another stream than the one cuBLAS is bound to: declined, nothing launched.
  cudaStream_t other;
  ASSERT_EQ(cudaStreamCreate(&other), cudaSuccess);
  EXPECT_FALSE(cuda::affine_qmm_dequant(static_cast<int>(float32.val), w, out.device_data(),
                                        out.device_data(), 40, 2, 64, other));
  cudaStreamDestroy(other);
}

// Timings (--gtest_also_run_disabled_tests): M = 512 prefill shapes of a 7B model, weights resident
// (one copy: L2 helps the dequantize write/read a little, as in a real prefill). TFLOP/s = 2 M N K / time.
TEST_F(GpuQuantGemm, DISABLED_Timings) {
  cudaStream_t st = cuda::current_stream();
  const int M = 512;
  const int shapes[3][2] = {{4096, 4096}, {11008, 4096}, {4096, 11008}};  // (N, K)
  // Seconds per call (kernel_ms: CUDA events on the legacy stream, which st is blocking with).
  auto time_s = [](auto&& f) { return kernel_ms(f, 20) / 1e3; };
  std::printf("%-40s %-14s %4s %9s %8s %7s\n", "kernel", "N x K", "M", "us", "TFLOP/s", "vs bf16");
  for (auto [N, K] : shapes) {
    char shape[32];
    std::snprintf(shape, sizeof(shape), "%d x %d", N, K);
    const double flops = 2.0 * M * N * K;
    auto xb = random_array({M, K}, bfloat16, -1, 1, 2);
    auto ob = random_array({M, N}, bfloat16, -1, 1, 0);
    auto xf = random_array({M, K}, float32, -1, 1, 3);
    auto of = random_array({M, N}, float32, -1, 1, 0);
    auto wd = random_array({N, K}, bfloat16, -1, 1, 9);
    auto wf = random_array({N, K}, float32, -1, 1, 10);
    eval(xb, ob, xf, of, wd, wf);
    double dense = time_s([&] {
      cuda::GemmArgs g{
          CUBLAS_OP_T,      CUBLAS_OP_N, N, M, K,           wd.device_data(),  K, 0, xb.device_data(), K, 0,
          ob.device_data(), N,           0, 1, CUDA_R_16BF, CUBLAS_COMPUTE_32F};
      if (!cuda::gemm_lt(g)) cuda::gemm_cublas(g);
    });
    auto row = [&](const std::string& name, double s) {
      std::printf("%-40s %-14s %4d %9.1f %8.1f %7.2f\n", name.c_str(), shape, M, s * 1e6, flops / s / 1e12,
                  dense / s);
    };
    row("dense bf16 GEMM (cuBLASLt)", dense);
    row("dense f32 GEMM (cuBLAS, no TF32)", time_s([&] {
          cuda::GemmArgs g{CUBLAS_OP_T,
                           CUBLAS_OP_N,
                           N,
                           M,
                           K,
                           wf.device_data(),
                           K,
                           0,
                           xf.device_data(),
                           K,
                           0,
                           of.device_data(),
                           N,
                           0,
                           1,
                           CUDA_R_32F,
                           CUBLAS_COMPUTE_32F};
          cuda::gemm_cublas(g);
        }));
    for (int bits : {4, 8}) {
      const int gs = 64;
      auto q = quantize(wd, gs, bits, Device::gpu);
      eval(q[0], q[1], q[2]);
      cuda::AffineWeight w{static_cast<const uint32_t*>(q[0].device_data()),
                           q[1].device_data(),
                           q[2].device_data(),
                           bits,
                           gs,
                           true};
      const int bf = static_cast<int>(bfloat16.val);
      const std::string tag = "affine " + std::to_string(bits) + "-bit g64 bf16 ";
      row(tag + "auto",
          time_s([&] { cuda::affine_qmm(bf, w, xb.device_data(), ob.device_data(), nullptr, M, N, K, st); }));
      if (bits == 4) {
        for (size_t mb : {16, 32}) {
          ScratchBound bound(mb << 20);
          row(tag + "auto, " + std::to_string(mb) + " MB scratch", time_s([&] {
                cuda::affine_qmm(bf, w, xb.device_data(), ob.device_data(), nullptr, M, N, K, st);
              }));
        }
      }
      row(tag + "tiled (old)",
          time_s([&] { cuda::affine_gemm_tiled(bf, w, xb.device_data(), ob.device_data(), M, N, K, st); }));
      auto deq = random_array({N, K}, bfloat16, -1, 1, 0);
      eval(deq);
      double s = time_s([&] {
        cuda::affine_dequantize_cols(bf, w.w, w.scales, w.biases, deq.device_data(), N, K, 0, K, gs, bits,
                                     st);
      });
      std::printf("%-40s %-14s %4s %9.1f %8s %7s  (%.0f GB/s)\n", (tag + "dequantize only").c_str(), shape,
                  "-", s * 1e6, "-", "-",
                  (q[0].nbytes() + q[1].nbytes() + q[2].nbytes() + deq.nbytes()) / s / 1e9);
    }
    {
      auto q = quantize(wf, 64, 4, Device::gpu);
      eval(q[0], q[1], q[2]);
      cuda::AffineWeight w{static_cast<const uint32_t*>(q[0].device_data()),
                           q[1].device_data(),
                           q[2].device_data(),
                           4,
                           64,
                           true};
      row("affine 4-bit g64 f32 auto", time_s([&] {
            cuda::affine_qmm(static_cast<int>(float32.val), w, xf.device_data(), of.device_data(), nullptr, M,
                             N, K, st);
          }));
    }
    for (auto t : {GGUFType::Q4_0, GGUFType::Q4_K}) {
      auto b = random_gguf(t, N, K, 3);
      eval(b);
      row("GGUF " + gguf_type_name(t) + " f32 x auto", time_s([&] {
            cuda::gguf_qmm(static_cast<int>(t), static_cast<const float*>(xf.device_data()),
                           static_cast<const uint8_t*>(b.device_data()),
                           static_cast<float*>(of.device_data()), M, N, K, st);
          }));
    }
  }
  // Crossover of the bf16 4-bit paths by rows of x (kQuantDequantGemmMinRows picks between them).
  const int N = 11008, K = 4096, gs = 64, bf = static_cast<int>(bfloat16.val);
  auto q = quantize(random_array({N, K}, bfloat16, -1, 1, 11), gs, 4, Device::gpu);
  eval(q[0], q[1], q[2]);
  cuda::AffineWeight w{
      static_cast<const uint32_t*>(q[0].device_data()), q[1].device_data(), q[2].device_data(), 4, gs, true};
  std::printf("\n4-bit g64 bf16, N x K = 11008 x 4096: us by rows of x\n%4s %10s %10s\n", "M", "tiled",
              "dequant");
  for (int m : {9, 16, 24, 32, 48, 64, 128}) {
    auto x = random_array({m, K}, bfloat16, -1, 1, 12);
    auto o = random_array({m, N}, bfloat16, -1, 1, 0);
    eval(x, o);
    double tiled =
        time_s([&] { cuda::affine_gemm_tiled(bf, w, x.device_data(), o.device_data(), m, N, K, st); });
    double deq =
        time_s([&] { cuda::affine_qmm_dequant(bf, w, x.device_data(), o.device_data(), m, N, K, st); });
    std::printf("%4d %10.1f %10.1f\n", m, tiled * 1e6, deq * 1e6);
  }
  EXPECT_EQ(cudaStreamSynchronize(st), cudaSuccess);
}
