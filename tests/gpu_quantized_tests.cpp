// GPU quantized kernels (tessera_gpu_tests): affine quantize / dequantize / quantized_matmul and GGUF
// matmul / dequantize against the CPU kernels and float64 dequantize-then-matmul references, every
// bits / group size / GGUF type, GEMV (M <= 8) and tensor-core GEMM (M > 8) rows; DISABLED_ timings.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tessera/backend/cuda/blaslt.h"
#include "tessera/backend/cuda/kernels_quantized.h"
#include "tessera/backend/cuda/runtime.h"
#include "gpu_quant_test_utils.h"
#include "gpu_test_utils.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::testing;

namespace {

class GpuQuant : public tessera::testing::GpuTest {};

const int kBits[] = {2, 3, 4, 5, 6, 8};
const int kGroups[] = {32, 64, 128};
const int kRowsM[] = {1, 3, 8, 9, 33, 128};
const Dtype kFloats[] = {float32, float16, bfloat16};
const GGUFType kTypes[] = {GGUFType::Q4_0, GGUFType::Q4_1, GGUFType::Q8_0,
                           GGUFType::Q4_K, GGUFType::Q5_K, GGUFType::Q6_K};

// Relative tolerance (of sum |x w|) of a GPU quantized matmul: the GEMV accumulates in float32
// from the inputs' values, except the h2 kernel (one row of f16/bf16 x: f16 products and 32-value
// sums); the GEMM rounds x and W tiles to f16 (f16 x) or bf16 (bf16 and f32 x; GGUF always, as its
// x is float32); f16/bf16 outputs are rounded.
constexpr double kH2Tolerance = 2e-3;
double matmul_tolerance(Dtype d, int64_t M, bool gguf = false) {
  double tiles = M == 1 && d != float32 && !gguf ? kH2Tolerance
                 : M <= 8                        ? 5e-5
                                                 : (d == float16 && !gguf ? 2e-3 : 1.2e-2);
  double out = d == float32 ? 0.0 : d == float16 ? 1e-3 : 8e-3;
  return tiles + out;
}

// W as float64 from a CPU dequantize with float32 scales and biases (no rounding to the x dtype).
std::vector<double> dequantized(const std::vector<array>& q, int gs, int bits) {
  return host_values(dequantize(q[0], astype(q[1], float32, Device::cpu), astype(q[2], float32, Device::cpu), gs,
                                bits, Device::cpu));
}

}  // namespace

TEST_F(GpuQuant, QuantizeAndDequantizeMatchCpuBitForBit) {
  for (Dtype d : kFloats) {
    for (int bits : kBits) {
      for (int gs : kGroups) {
        auto w = random_array({7, 3 * gs}, d, -2, 1, bits * 100 + gs);
        auto gpu = quantize(w, gs, bits, Device::gpu);
        auto cpu = quantize(w, gs, bits, Device::cpu);
        std::string what = std::string(dtype_name(d)) + " bits " + std::to_string(bits) + " gs " + std::to_string(gs);
        EXPECT_EQ(gpu[0].to_vector<uint32_t>(), cpu[0].to_vector<uint32_t>()) << what;
        EXPECT_EQ(host_values(gpu[1]), host_values(cpu[1])) << what;
        EXPECT_EQ(host_values(gpu[2]), host_values(cpu[2])) << what;
        auto dg = dequantize(cpu[0], cpu[1], cpu[2], gs, bits, Device::gpu);
        auto dc = dequantize(cpu[0], cpu[1], cpu[2], gs, bits, Device::cpu);
        ASSERT_EQ(dg.dtype(), d);
        EXPECT_TRUE(all_close(dg, host_values(dc), d == float32 ? 1e-6 : 1e-2, 1e-6)) << what;
      }
    }
  }
}

TEST_F(GpuQuant, AffineMatmulMatchesDequantizedReference) {
  for (Dtype d : kFloats) {
    for (int bits : kBits) {
      for (int gs : kGroups) {
        for (bool transpose : {true, false}) {
          // N and K off the 64 x 128 x 32 GEMM tiles; the packed axis a multiple of the group size.
          const int64_t K = transpose ? 5 * gs : 197, N = transpose ? 197 : 5 * gs;
          Shape wshape = transpose ? Shape{static_cast<ShapeElem>(N), static_cast<ShapeElem>(K)}
                                   : Shape{static_cast<ShapeElem>(K), static_cast<ShapeElem>(N)};
          auto wf = random_array(wshape, d, -1, 1, bits * 1000 + gs + transpose);
          auto q = quantize(wf, gs, bits, Device::cpu);
          eval(q);
          auto wv = dequantized(q, gs, bits);
          for (int M : kRowsM) {
            auto x = random_array({M, static_cast<ShapeElem>(K)}, d, -1, 1, M + bits);
            auto y = quantized_matmul(x, q[0], q[1], q[2], transpose, gs, bits, Device::gpu);
            ASSERT_EQ(y.shape(), (Shape{M, static_cast<ShapeElem>(N)}));
            ASSERT_EQ(y.dtype(), d);
            std::vector<double> want, mag;
            ref_matmul(host_values(x), wv, M, K, N, transpose, want, mag);
            EXPECT_TRUE(close_scaled(y, want, mag, matmul_tolerance(d, M)))
                << dtype_name(d) << " bits " << bits << " gs " << gs << " transpose " << transpose << " M " << M;
          }
        }
      }
    }
  }
}

TEST_F(GpuQuant, AffineMatmulAgreesWithCpuKernelOnLargerShapes) {
  // Several GEMV chunks per lane and several GEMM k-slices; batch dims on x.
  const int K = 1024 + 256, N = 300, gs = 64;
  for (int bits : {4, 8}) {
    auto q = quantize(random_array({N, K}, float32, -1, 1, 7), gs, bits, Device::cpu);
    for (int M : {2, 6, 40}) {
      auto x = random_array({2, M, K}, float32, -1, 1, 8 + M);
      auto g = quantized_matmul(x, q[0], q[1], q[2], true, gs, bits, Device::gpu);
      auto c = quantized_matmul(x, q[0], q[1], q[2], true, gs, bits, Device::cpu);
      ASSERT_EQ(g.shape(), (Shape{2, M, N}));
      std::vector<double> want = host_values(c), mag;
      auto xa = host_values(abs(x, Device::cpu));
      auto wa = host_values(abs(dequantize(q[0], q[1], q[2], gs, bits, Device::cpu), Device::cpu));
      std::vector<double> unused;
      ref_matmul(xa, wa, 2 * M, K, N, true, unused, mag);
      // 2 * M rows in all pick the kernel (GEMV up to 8).
      EXPECT_TRUE(close_scaled(g, want, mag, matmul_tolerance(float32, 2 * M))) << "bits " << bits << " M " << M;
    }
  }
}

TEST_F(GpuQuant, MisalignedAndStridedOperands) {
  // Rows 1.. of a 3-bit weight start 60 bytes into the buffer (not 16-byte aligned); x is a
  // transposed view. Results must equal the CPU kernel's on the same views.
  const int K = 160, N = 33, gs = 32, bits = 3;
  auto q = quantize(random_array({N + 1, K}, float32, -1, 1, 11), gs, bits, Device::cpu);
  eval(q);
  auto wq = slice(q[0], {1, 0}, {N + 1, K * bits / 32});
  auto sc = slice(q[1], {1, 0}, {N + 1, K / gs});
  auto bi = slice(q[2], {1, 0}, {N + 1, K / gs});
  for (int M : {1, 5, 20}) {
    auto x = transpose(random_array({K, M}, float32, -1, 1, 12 + M));
    auto g = quantized_matmul(x, wq, sc, bi, true, gs, bits, Device::gpu);
    auto c = quantized_matmul(x, wq, sc, bi, true, gs, bits, Device::cpu);
    std::vector<double> want = host_values(c), mag;
    auto xa = host_values(abs(x, Device::cpu));
    auto wa = host_values(abs(dequantize(wq, sc, bi, gs, bits, Device::cpu), Device::cpu));
    std::vector<double> unused;
    ref_matmul(xa, wa, M, K, N, true, unused, mag);
    EXPECT_TRUE(close_scaled(g, want, mag, matmul_tolerance(float32, M))) << "M " << M;
  }
  auto dg = dequantize(wq, sc, bi, gs, bits, Device::gpu);
  EXPECT_TRUE(all_close(dg, host_values(dequantize(wq, sc, bi, gs, bits, Device::cpu)), 1e-6, 1e-6));
}

TEST_F(GpuQuant, GGUFDequantizeMatchesCpu) {
  for (auto t : kTypes) {
    const int rows = 5, K = 768;
    auto b = random_gguf(t, rows, K, 21 + static_cast<int>(t));
    auto g = gguf_dequantize(b, t, {rows, K}, Device::gpu);
    auto c = gguf_dequantize(b, t, {rows, K}, Device::cpu);
    auto cv = host_values(c);
    for (double v : cv) ASSERT_TRUE(std::isfinite(v)) << gguf_type_name(t);
    EXPECT_TRUE(all_close(g, cv, 1e-6, 1e-7)) << gguf_type_name(t);
  }
}

TEST_F(GpuQuant, GGUFMatmulMatchesDequantizedReference) {
  for (auto t : kTypes) {
    // N off the GEMM tile; K several blocks (and for 256-blocks, not a multiple of 512).
    const int N = 197, K = 768;
    auto b = random_gguf(t, N, K, 40 + static_cast<int>(t));
    auto wv = host_values(gguf_dequantize(b, t, {N, K}, Device::cpu));
    for (Dtype d : kFloats) {
      for (int M : kRowsM) {
        auto x = random_array({M, K}, d, -1, 1, M * 3 + static_cast<int>(t));
        auto y = gguf_quantized_matmul(x, b, t, K, Device::gpu);
        ASSERT_EQ(y.shape(), (Shape{M, N}));
        ASSERT_EQ(y.dtype(), d);
        std::vector<double> want, mag;
        ref_matmul(host_values(x), wv, M, K, N, true, want, mag);
        EXPECT_TRUE(close_scaled(y, want, mag, matmul_tolerance(d, M, true)))
            << gguf_type_name(t) << " " << dtype_name(d) << " M " << M;
      }
    }
  }
}

TEST_F(GpuQuant, AffineGemvLongRowsSeveralXTiles) {
  // The 4/8-bit GEMV stages x in K tiles of 8192 / MR values: K spans two tiles for one row of x
  // and nine for 5 rows (MR 8: 1024-value tiles), plus a partial tile; N off the 16-row blocks.
  const int64_t K = 8192 + 3 * 128, N = 37;
  for (int bits : {4, 8}) {
    for (int gs : {32, 128}) {
      auto q = quantize(random_array({N, K}, float32, -1, 1, bits + gs), gs, bits, Device::cpu);
      eval(q);
      auto wv = dequantized(q, gs, bits);
      for (Dtype d : {float32, bfloat16}) {
        auto qd = std::vector<array>{q[0], astype(q[1], d, Device::cpu), astype(q[2], d, Device::cpu)};
        auto wd = d == float32 ? wv : dequantized(qd, gs, bits);
        for (int M : {1, 5}) {
          auto x = random_array({M, K}, d, -1, 1, 100 + M);
          auto y = quantized_matmul(x, qd[0], qd[1], qd[2], true, gs, bits, Device::gpu);
          std::vector<double> want, mag;
          ref_matmul(host_values(x), wd, M, K, N, true, want, mag);
          EXPECT_TRUE(close_scaled(y, want, mag, matmul_tolerance(d, M)))
              << "bits " << bits << " gs " << gs << " " << dtype_name(d) << " M " << M;
        }
      }
    }
  }
}

TEST_F(GpuQuant, GGUFGemvSeveralSegmentsAndTails) {
  // 16-byte aligned rows go through the staged kernel (segments of 1024 values, 2048 for Q6_K):
  // K = 6144 is whole segments, K = 5376 ends in a partial one (Q6_K: 2-byte aligned rows, the
  // in-place kernel); K = 96 (Q4_0/Q4_1/Q8_0: rows of 54/60/102 bytes) takes the in-place kernel.
  const int N = 37;
  for (auto t : kTypes) {
    for (int K : {6144, 5376, 96}) {
      if (K % gguf_block_size(t) != 0) continue;
      auto b = random_gguf(t, N, K, 60 + K + static_cast<int>(t));
      auto wv = host_values(gguf_dequantize(b, t, {N, K}, Device::cpu));
      for (int M : {1, 3, 8}) {
        auto x = random_array({M, K}, float32, -1, 1, M + K);
        auto y = gguf_quantized_matmul(x, b, t, K, Device::gpu);
        std::vector<double> want, mag;
        ref_matmul(host_values(x), wv, M, K, N, true, want, mag);
        EXPECT_TRUE(close_scaled(y, want, mag, matmul_tolerance(float32, M, true)))
            << gguf_type_name(t) << " K " << K << " M " << M;
      }
    }
  }
}

TEST_F(GpuQuant, TensorCoreGemvMatchesDequantizedReference) {
  // cuda::affine_gemv_tc (4-bit, f16/bf16 x) called directly: N off the 16-row tiles, K = 128 (one
  // super-step, 7 idle warps) and 1152 (9 super-steps over 8 warps), every group size, odd M.
  const int N = 37;
  cudaStream_t st = cuda::current_stream();
  for (Dtype d : {float16, bfloat16}) {
    for (int gs : kGroups) {
      for (int K : {128, 1152}) {
        auto q = quantize(random_array({N, K}, d, -1, 1, gs + K), gs, 4, Device::gpu);
        eval(q);
        auto wv = dequantized(q, gs, 4);
        for (int M : {1, 3, 8}) {
          auto x = random_array({M, K}, d, -1, 1, 7 * M + gs);
          auto y = random_array({M, N}, d, -1, 1, 0);  // overwritten by the kernel
          eval(x, y);
          cuda::AffineWeight w{static_cast<const uint32_t*>(q[0].device_data()), q[1].device_data(),
                               q[2].device_data(), 4, gs, true};
          ASSERT_TRUE(cuda::affine_gemv_tc(static_cast<int>(d.val), w, x.device_data(), y.device_data(), M, N, K, st));
          y.mark_device_written();  // else the host copy of y (still valid) is what the check reads
          ASSERT_EQ(cudaStreamSynchronize(st), cudaSuccess);
          std::vector<double> want, mag;
          ref_matmul(host_values(x), wv, M, K, N, true, want, mag);
          EXPECT_TRUE(close_scaled(y, want, mag, matmul_tolerance(d, M)))
              << dtype_name(d) << " gs " << gs << " K " << K << " M " << M;
        }
      }
    }
  }
  // Outside its scope it launches nothing.
  auto q8 = quantize(random_array({16, 128}, bfloat16, -1, 1, 1), 64, 8, Device::gpu);
  eval(q8);
  cuda::AffineWeight w8{static_cast<const uint32_t*>(q8[0].device_data()), q8[1].device_data(), q8[2].device_data(),
                        8, 64, true};
  EXPECT_FALSE(cuda::affine_gemv_tc(static_cast<int>(bfloat16.val), w8, nullptr, nullptr, 1, 16, 128, st));
}

namespace {

// Sets the GEMV kernel of affine_qmm for a scope.
struct ForceGemv {
  cuda::QGemvKernel prev;
  explicit ForceGemv(cuda::QGemvKernel k) : prev(cuda::qgemv_kernel()) { cuda::set_qgemv_kernel(k); }
  ~ForceGemv() { cuda::set_qgemv_kernel(prev); }
};

const char* gemv_name(cuda::QGemvKernel k) {
  return k == cuda::QGemvKernel::old    ? "old"
         : k == cuda::QGemvKernel::fast ? "fast"
         : k == cuda::QGemvKernel::tc   ? "tc"
         : k == cuda::QGemvKernel::lop3 ? "lop3"
         : k == cuda::QGemvKernel::h2   ? "h2"
                                        : "auto";
}

}  // namespace

TEST_F(GpuQuant, EveryGemvKernelMatchesDequantizedReference) {
  // Each W (N, K) GEMV kernel called directly (cuda::affine_gemv_with), whether or not it is the
  // default: old (every width), fast (bits 4/8), tc (4-bit, f16/bf16 x). K 1152: one x tile (fast),
  // 9 tc super-steps; K 2304: MR 8 crosses 1024-value x tiles; K 8576: MR 1 crosses an 8192 tile.
  const int N = 37;
  cudaStream_t st = cuda::current_stream();
  for (Dtype d : kFloats) {
    for (int bits : kBits) {
      for (int gs : kGroups) {
        for (int K : {1152, 2304, 8576}) {
          auto q = quantize(random_array({N, K}, d, -1, 1, bits * 7 + gs + K), gs, bits, Device::gpu);
          eval(q);
          auto wv = dequantized(q, gs, bits);
          cuda::AffineWeight w{static_cast<const uint32_t*>(q[0].device_data()), q[1].device_data(),
                               q[2].device_data(), bits, gs, true};
          for (int M : {1, 2, 3, 5, 8}) {
            if (K == 8576 && M > 1) continue;
            auto x = random_array({M, K}, d, -1, 1, 11 * M + bits + gs);
            eval(x);
            std::vector<double> want, mag;
            ref_matmul(host_values(x), wv, M, K, N, true, want, mag);
            for (auto k : {cuda::QGemvKernel::old, cuda::QGemvKernel::fast, cuda::QGemvKernel::tc,
                           cuda::QGemvKernel::lop3, cuda::QGemvKernel::h2}) {
              const bool applies = k == cuda::QGemvKernel::old ||
                                   ((k == cuda::QGemvKernel::fast || k == cuda::QGemvKernel::lop3) &&
                                    (bits == 4 || bits == 8)) ||
                                   (k == cuda::QGemvKernel::tc && bits == 4 && d != float32) ||
                                   (k == cuda::QGemvKernel::h2 && (bits == 4 || bits == 8) && d != float32 && M == 1);
              auto y = random_array({M, N}, d, -1, 1, 0);  // a full buffer, overwritten by the kernel
              eval(y);
              const bool ran = cuda::affine_gemv_with(k, static_cast<int>(d.val), w, x.device_data(),
                                                      y.device_data(), M, N, K, st);
              ASSERT_EQ(ran, applies) << gemv_name(k) << " " << dtype_name(d) << " bits " << bits;
              if (!ran) continue;
              y.mark_device_written();
              ASSERT_EQ(cudaStreamSynchronize(st), cudaSuccess);
              // Kernels other than h2 keep float32 sums at M = 1 too (the tolerance of 2 rows).
              const double tol = k == cuda::QGemvKernel::h2 ? matmul_tolerance(d, M) : matmul_tolerance(d, std::max(M, 2));
              EXPECT_TRUE(close_scaled(y, want, mag, tol))
                  << gemv_name(k) << " " << dtype_name(d) << " bits " << bits << " gs " << gs << " K " << K
                  << " M " << M;
            }
          }
        }
      }
    }
  }
}

TEST_F(GpuQuant, Lop3GemvEveryRowCountGroupAndDtype) {
  // The conversion-free kernel called directly: every M 1..8 (MR 1/2/4/8 take 8/4/2/2 rows a block),
  // N odd and N 3 (fewer rows than a block), K 1152 (36 chunks, idle lanes) and 4224 (132 chunks:
  // a full round of the block's 128 lanes and a partial one), bits 4/8, groups 32/64/128, f32/f16/bf16
  // x, against the float64 dequantize-then-matmul reference. A group size of 96 is refused.
  cudaStream_t st = cuda::current_stream();
  for (Dtype d : kFloats) {
    for (int bits : {4, 8}) {
      for (int gs : kGroups) {
        for (int K : {1152, 4224}) {
          for (int N : {45, 3}) {
            auto q = quantize(random_array({N, K}, d, -1, 1, bits * 5 + gs + K + N), gs, bits, Device::gpu);
            eval(q);
            auto wv = dequantized(q, gs, bits);
            cuda::AffineWeight w{static_cast<const uint32_t*>(q[0].device_data()), q[1].device_data(),
                                 q[2].device_data(), bits, gs, true};
            for (int M = 1; M <= 8; ++M) {
              auto x = random_array({M, K}, d, -1, 1, 13 * M + bits + gs + N);
              auto y = random_array({M, N}, d, -1, 1, 0);  // overwritten by the kernel
              eval(x, y);
              ASSERT_TRUE(cuda::affine_gemv_with(cuda::QGemvKernel::lop3, static_cast<int>(d.val), w, x.device_data(),
                                                 y.device_data(), M, N, K, st));
              y.mark_device_written();
              ASSERT_EQ(cudaStreamSynchronize(st), cudaSuccess);
              std::vector<double> want, mag;
              ref_matmul(host_values(x), wv, M, K, N, true, want, mag);
              EXPECT_TRUE(close_scaled(y, want, mag, matmul_tolerance(d, M)))
                  << dtype_name(d) << " bits " << bits << " gs " << gs << " K " << K << " N " << N << " M " << M;
            }
          }
        }
      }
    }
  }
  // (quantize takes 32/64/128 only: a gs-32 weight described as gs 96; nothing is launched.)
  auto q = quantize(random_array({16, 192}, float32, -1, 1, 2), 32, 4, Device::gpu);
  eval(q);
  cuda::AffineWeight w96{static_cast<const uint32_t*>(q[0].device_data()), q[1].device_data(), q[2].device_data(),
                         4, 96, true};
  EXPECT_FALSE(cuda::affine_gemv_with(cuda::QGemvKernel::lop3, static_cast<int>(float32.val), w96, nullptr, nullptr,
                                      1, 16, 192, st));
}

TEST_F(GpuQuant, H2GemvTailsOutliersAndLongRows) {
  // The packed-f16 kernel called directly against the float64 reference: N 45 and 3 (fewer rows than
  // a block), K 1152 / 4224 / 11008, bits 4/8, groups 32/64/128, f16/bf16 x in [-1, 1]; then x with
  // outliers of +-3000 (unscaled f16 products would overflow) and x near 1e-6; rows too long for its
  // shared memory (K 24576) are refused, and the automatic choice takes lop3 for them.
  cudaStream_t st = cuda::current_stream();
  auto run = [&](Dtype d, int bits, int gs, int N, int K, array x, const char* what) {
    auto q = quantize(random_array({N, K}, d, -1, 1, bits * 3 + gs + K + N), gs, bits, Device::gpu);
    auto y = random_array({1, N}, d, -1, 1, 0);
    eval(q);
    eval(x, y);
    cuda::AffineWeight w{static_cast<const uint32_t*>(q[0].device_data()), q[1].device_data(), q[2].device_data(),
                         bits, gs, true};
    ASSERT_TRUE(cuda::affine_gemv_with(cuda::QGemvKernel::h2, static_cast<int>(d.val), w, x.device_data(),
                                       y.device_data(), 1, N, K, st));
    y.mark_device_written();
    ASSERT_EQ(cudaStreamSynchronize(st), cudaSuccess);
    std::vector<double> want, mag;
    ref_matmul(host_values(x), dequantized(q, gs, bits), 1, K, N, true, want, mag);
    EXPECT_TRUE(close_scaled(y, want, mag, matmul_tolerance(d, 1)))
        << what << " " << dtype_name(d) << " bits " << bits << " gs " << gs << " K " << K << " N " << N;
  };
  for (Dtype d : {float16, bfloat16}) {
    for (int bits : {4, 8}) {
      for (int gs : kGroups) {
        for (int K : {1152, 4224, 11008}) {
          for (int N : {45, 3}) run(d, bits, gs, N, K, random_array({1, K}, d, -1, 1, K + N + bits), "uniform");
        }
      }
      const int K = 4224;
      auto base = random_array({1, K}, float32, -1, 1, 77);
      auto spikes = astype(equal(remainder(arange(0.0, static_cast<double>(K), 1.0, float32), array(97.0f)), array(0.0f)), float32);
      // Every 97th value scaled by 3000, the others by 375; then the same by 1e-6 / 1.25e-7.
      auto big = astype(multiply(base, add(multiply(spikes, array(2625.0f)), array(375.0f))), d);
      auto tiny = astype(multiply(base, add(multiply(spikes, array(8.75e-7f)), array(1.25e-7f))), d);
      run(d, bits, 64, 45, K, big, "outliers");
      run(d, bits, 64, 45, K, tiny, "tiny");
    }
  }
  auto q = quantize(random_array({16, 24576}, bfloat16, -1, 1, 5), 64, 4, Device::gpu);
  eval(q);
  cuda::AffineWeight w{static_cast<const uint32_t*>(q[0].device_data()), q[1].device_data(), q[2].device_data(), 4,
                       64, true};
  EXPECT_FALSE(cuda::affine_gemv_with(cuda::QGemvKernel::h2, static_cast<int>(bfloat16.val), w, nullptr, nullptr, 1,
                                      16, 24576, st));
  auto x = random_array({1, 24576}, bfloat16, -1, 1, 6);
  auto y = quantized_matmul(x, q[0], q[1], q[2], true, 64, 4, Device::gpu);
  std::vector<double> want, mag;
  ref_matmul(host_values(x), dequantized(q, 64, 4), 1, 24576, 16, true, want, mag);
  EXPECT_TRUE(close_scaled(y, want, mag, matmul_tolerance(bfloat16, 2)));  // lop3's float32 sums
}

TEST_F(GpuQuant, ForcedGemvKernelReachesQuantizedMatmul) {
  // set_qgemv_kernel (as TESSERA_QGEMV) steers quantized_matmul's GEMVs; a kernel that does not take
  // the arguments (tc with 8-bit or f32) falls back to the automatic choice. M 12 (f32): two GEMVs.
  const int N = 70, K = 640;
  for (auto k : {cuda::QGemvKernel::old, cuda::QGemvKernel::fast, cuda::QGemvKernel::tc, cuda::QGemvKernel::lop3,
                 cuda::QGemvKernel::h2, cuda::QGemvKernel::automatic}) {
    ForceGemv force(k);
    EXPECT_EQ(cuda::qgemv_kernel(), k);
    for (Dtype d : {float32, bfloat16}) {
      for (int bits : {4, 8}) {
        auto q = quantize(random_array({N, K}, d, -1, 1, bits), 64, bits, Device::cpu);
        eval(q);
        auto wv = dequantized(q, 64, bits);
        for (int M : {1, 4, 12}) {
          if (M > 8 && d != float32) continue;  // f16/bf16 x takes the tensor-core GEMM above 8 rows
          auto x = random_array({M, K}, d, -1, 1, M + bits);
          auto y = quantized_matmul(x, q[0], q[1], q[2], true, 64, bits, Device::gpu);
          std::vector<double> want, mag;
          ref_matmul(host_values(x), wv, M, K, N, true, want, mag);
          EXPECT_TRUE(close_scaled(y, want, mag, matmul_tolerance(d, std::min(M, 8))))
              << gemv_name(k) << " " << dtype_name(d) << " bits " << bits << " M " << M;
        }
      }
    }
  }
}

TEST_F(GpuQuant, ZeroRowsAndBadInput) {
  auto q = quantize(random_array({16, 64}, float32, -1, 1, 3), 32, 4, Device::cpu);
  auto y = quantized_matmul(zeros({0, 64}), q[0], q[1], q[2], true, 32, 4, Device::gpu);
  EXPECT_EQ(y.shape(), (Shape{0, 16}));
  eval(y);
  EXPECT_THROW(quantized_matmul(zeros({2, 63}), q[0], q[1], q[2], true, 32, 4, Device::gpu), std::invalid_argument);
  auto b = random_gguf(GGUFType::Q4_0, 4, 64, 1);
  EXPECT_THROW(gguf_quantized_matmul(zeros({1, 32}), b, GGUFType::Q4_0, 32, Device::gpu), std::invalid_argument);
}

// Timings (run with --gtest_also_run_disabled_tests). Kernel time: `reps` launches queued behind a
// host-side wait on the stream (so the GPU runs them back to back, not paced by the CPU's launch
// cost), timed with CUDA events; each launch reads the next of several copies of the weights
// (together > 256 MB, far above the 50-60 MB L2), so every byte comes from HBM. GB/s counts weight
// + scale/bias + x + output bytes; "peak" is the card's HBM peak (H100 SXM 3.35 TB/s, H200 4.8 TB/s,
// printed in the header; another card: 3.35); "cuBLAS" is the bandwidth of the
// bf16 GEMV (cublasGemmEx, same N x K, M rows) timed the same way.
namespace {

// HBM peak of the current card by name (H200 4.8 TB/s, else the H100 SXM's 3.35 TB/s).
double peak_bytes_per_s(std::string& name) {
  cudaDeviceProp prop{};
  name = cudaGetDeviceProperties(&prop, 0) == cudaSuccess ? prop.name : "unknown";
  return name.find("H200") != std::string::npos ? 4.8e12 : 3.35e12;
}

// Device copies of a set of buffers, enough that the copies together exceed `total` bytes.
struct Copies {
  std::vector<std::vector<void*>> sets;  // sets[i][b]: copy i of buffer b
  ~Copies() {
    for (auto& s : sets)
      for (void* p : s) cudaFree(p);
  }
};

void make_copies(Copies& c, const std::vector<std::pair<const void*, size_t>>& bufs, size_t total) {
  size_t one = 0;
  for (auto& b : bufs) one += b.second;
  size_t n = std::max<size_t>(1, std::min<size_t>(64, (total + one - 1) / std::max<size_t>(one, 1)));
  for (size_t i = 0; i < n; ++i) {
    std::vector<void*> set;
    for (auto& b : bufs) {
      void* p = nullptr;
      EXPECT_EQ(cudaMalloc(&p, b.second), cudaSuccess);
      EXPECT_EQ(cudaMemcpy(p, b.first, b.second, cudaMemcpyDeviceToDevice), cudaSuccess);
      set.push_back(p);
    }
    c.sets.push_back(set);
  }
}

void host_sleep(void*) { std::this_thread::sleep_for(std::chrono::milliseconds(30)); }

// Seconds per call of f(copy index), reps calls queued behind a 30 ms host wait.
template <typename F>
double kernel_seconds(cudaStream_t st, int copies, F&& f) {
  for (int i = 0; i < copies; ++i) f(i);  // warm-up (and every copy touched once)
  EXPECT_EQ(cudaStreamSynchronize(st), cudaSuccess);
  cudaEvent_t e0, e1;
  EXPECT_EQ(cudaEventCreate(&e0), cudaSuccess);
  EXPECT_EQ(cudaEventCreate(&e1), cudaSuccess);
  const int reps = 200;
  EXPECT_EQ(cudaLaunchHostFunc(st, host_sleep, nullptr), cudaSuccess);
  EXPECT_EQ(cudaEventRecord(e0, st), cudaSuccess);
  for (int i = 0; i < reps; ++i) f(i % copies);
  EXPECT_EQ(cudaEventRecord(e1, st), cudaSuccess);
  EXPECT_EQ(cudaEventSynchronize(e1), cudaSuccess);
  float ms = 0;
  EXPECT_EQ(cudaEventElapsedTime(&ms, e0, e1), cudaSuccess);
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  return ms / 1e3 / reps;
}

}  // namespace

TEST_F(GpuQuant, DISABLED_Timings) {
  cudaStream_t st = cuda::current_stream();  // the stream cuBLAS is bound to
  const size_t kSpan = size_t(256) << 20;
  const int shapes[5][2] = {{4096, 4096}, {11008, 4096}, {4096, 11008}, {32000, 4096}, {128256, 4096}};  // (N, K)
  std::string card;
  const double kPeakBytesPerS = peak_bytes_per_s(card);
  std::printf("%s, peak %.2f TB/s\n", card.c_str(), kPeakBytesPerS / 1e12);
  std::printf("%-28s %-16s %2s %9s %8s %6s %7s\n", "kernel", "N x K", "M", "us", "GB/s", "peak", "cuBLAS");
  for (auto [N, K] : shapes) {
    char shape[32];
    std::snprintf(shape, sizeof(shape), "%d x %d", N, K);
    for (int M : {1, 4, 8}) {
      if (M > 1 && N != 11008) continue;  // rows of x: one shape
      // cuBLAS bf16 GEMV / skinny GEMM baseline: out (M, N) = x (M, K) @ W^T, W (N, K) row-major.
      auto xb = random_array({M, K}, bfloat16, -1, 1, 2);
      auto ob = random_array({M, N}, bfloat16, -1, 1, 0);
      eval(xb, ob);
      double cublas_gbs = 0;
      {
        auto wd = random_array({N, K}, bfloat16, -1, 1, 9);
        eval(wd);
        Copies c;
        make_copies(c, {{wd.device_data(), wd.nbytes()}}, kSpan);
        double s = kernel_seconds(st, static_cast<int>(c.sets.size()), [&](int i) {
          cuda::GemmArgs g{CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, c.sets[i][0], K, 0, xb.device_data(), K, 0,
                           ob.device_data(), N, 0, 1, CUDA_R_16BF, CUBLAS_COMPUTE_32F};
          cuda::gemm_cublas(g);
        });
        double bytes = wd.nbytes() + xb.nbytes() + ob.nbytes();
        cublas_gbs = bytes / s / 1e9;
        std::printf("%-28s %-16s %2d %9.2f %8.0f %6.2f %7.2f\n", "cuBLAS bf16", shape, M, s * 1e6, cublas_gbs,
                    bytes / s / kPeakBytesPerS, 1.0);
      }
      struct AffineCase {
        int bits, gs;
      };
      for (AffineCase ac : {AffineCase{4, 64}, AffineCase{8, 64}, AffineCase{4, 128}}) {
        auto q = quantize(random_array({N, K}, bfloat16, -1, 1, 1), ac.gs, ac.bits, Device::gpu);
        eval(q[0], q[1], q[2]);
        Copies c;
        make_copies(c, {{q[0].device_data(), q[0].nbytes()}, {q[1].device_data(), q[1].nbytes()},
                        {q[2].device_data(), q[2].nbytes()}}, kSpan);
        double bytes = q[0].nbytes() + q[1].nbytes() + q[2].nbytes() + xb.nbytes() + ob.nbytes();
        // Each GEMV kernel (old, fast, tc, lop3 where it applies) and affine_qmm's automatic choice ("auto").
        for (auto k : {cuda::QGemvKernel::old, cuda::QGemvKernel::fast, cuda::QGemvKernel::tc,
                       cuda::QGemvKernel::lop3, cuda::QGemvKernel::h2, cuda::QGemvKernel::automatic}) {
          bool ran = true;
          double s = kernel_seconds(st, static_cast<int>(c.sets.size()), [&](int i) {
            cuda::AffineWeight w{static_cast<const uint32_t*>(c.sets[i][0]), c.sets[i][1], c.sets[i][2], ac.bits,
                                 ac.gs, true};
            ran = cuda::affine_gemv_with(k, static_cast<int>(bfloat16.val), w, xb.device_data(), ob.device_data(), M,
                                         N, K, st) && ran;
          });
          if (!ran) continue;
          char name[64];
          std::snprintf(name, sizeof(name), "affine %d-bit g%d bf16 %s", ac.bits, ac.gs, gemv_name(k));
          std::printf("%-28s %-16s %2d %9.2f %8.0f %6.2f %7.2f\n", name, shape, M, s * 1e6, bytes / s / 1e9,
                      bytes / s / kPeakBytesPerS, bytes / s / 1e9 / cublas_gbs);
        }
      }
      auto xf = random_array({M, K}, float32, -1, 1, 4);
      auto of = random_array({M, N}, float32, -1, 1, 0);
      eval(xf, of);
      for (auto t : {GGUFType::Q4_0, GGUFType::Q8_0, GGUFType::Q4_K, GGUFType::Q6_K}) {
        auto b = random_gguf(t, N, K, 3);
        eval(b);
        Copies c;
        make_copies(c, {{b.device_data(), b.nbytes()}}, kSpan);
        double s = kernel_seconds(st, static_cast<int>(c.sets.size()), [&](int i) {
          cuda::gguf_qmm(static_cast<int>(t), static_cast<const float*>(xf.device_data()),
                         static_cast<const uint8_t*>(c.sets[i][0]), static_cast<float*>(of.device_data()), M, N, K,
                         st);
        });
        double bytes = b.nbytes() + xf.nbytes() + of.nbytes();
        std::string name = "GGUF " + gguf_type_name(t) + " f32 x";
        std::printf("%-28s %-16s %2d %9.2f %8.0f %6.2f %7.2f\n", name.c_str(), shape, M, s * 1e6, bytes / s / 1e9,
                    bytes / s / kPeakBytesPerS, bytes / s / 1e9 / cublas_gbs);
      }
    }
  }
  {
    const int M = 512, N = 4096, K = 4096, gs = 64;
    auto q = quantize(random_array({N, K}, bfloat16, -1, 1, 5), gs, 4, Device::gpu);
    auto x = random_array({M, K}, bfloat16, -1, 1, 6);
    auto out = random_array({M, N}, bfloat16, -1, 1, 0);
    auto wd = random_array({N, K}, bfloat16, -1, 1, 9);
    eval(q[0], q[1], q[2], x, out, wd);
    cuda::AffineWeight w{static_cast<const uint32_t*>(q[0].device_data()), q[1].device_data(), q[2].device_data(),
                         4, gs, true};
    double s = kernel_seconds(st, 1, [&](int) {
      cuda::affine_qmm(static_cast<int>(bfloat16.val), w, x.device_data(), out.device_data(), nullptr, M, N, K, st);
    });
    std::printf("affine 4-bit GEMM bf16 M %d N %d K %d: %.1f us, %.1f TFLOP/s\n", M, N, K, s * 1e6,
                2.0 * M * N * K / s / 1e12);
    s = kernel_seconds(st, 1, [&](int) {
      cuda::GemmArgs g{CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, wd.device_data(), K, 0, x.device_data(), K, 0,
                       out.device_data(), N, 0, 1, CUDA_R_16BF, CUBLAS_COMPUTE_32F};
      cuda::gemm_cublas(g);
    });
    std::printf("dense bf16 GEMM (cuBLAS) M %d N %d K %d: %.1f us, %.1f TFLOP/s\n", M, N, K, s * 1e6,
                2.0 * M * N * K / s / 1e12);
  }
  EXPECT_EQ(cudaStreamSynchronize(st), cudaSuccess);
}
