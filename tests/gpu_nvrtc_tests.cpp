// GPU tests of runtime compilation (NVRTC): fast::cuda_kernel (elementwise, template arguments,
// shapes/strides, two outputs with init_value, compile errors, the disk cache) and compile's GPU
// fusion of elementwise chains (float32/float16/bfloat16, broadcasting, odd sizes) against the
// unfused GPU graph and float64 references; prints timings.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <unistd.h>

#include "tessera/backend/cuda/nvrtc.h"
#include "gpu_test_utils.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::testing;

namespace {

class GpuNvrtc : public tessera::testing::GpuTest {};

// Values of a (any dtype) as float64, after the dtype's rounding.
std::vector<double> values(const array& a) { return astype(a, float64, Device::cpu).to_vector<double>(); }

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST_F(GpuNvrtc, CudaKernelElementwiseExp) {
  const int n = 1003;  // not a multiple of the block
  auto x = random_array({n}, float32, -2, 2, 1);
  auto k = fast::cuda_kernel("myexp", {"inp"}, {"out"},
                             "  const int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
                             "  if (i < inp_shape[0]) out[i] = expf(inp[i]);\n");
  auto outs = k({x}, {{n}}, {float32}, {n, 1, 1}, {256, 1, 1}, {}, std::nullopt, false, {});
  ASSERT_EQ(outs.size(), 1u);
  auto xv = values(x);
  std::vector<double> ref(n);
  for (int i = 0; i < n; ++i) ref[i] = std::exp(xv[i]);
  EXPECT_TRUE(all_close(outs[0], ref, 1e-6, 1e-7));
}

TEST_F(GpuNvrtc, CudaKernelTemplateArgumentsAndStrides) {
  // A transposed (non-contiguous) float16 input read in place through its shape and strides; T, N
  // and ADD_ONE come from template arguments.
  auto base = random_array({5, 7}, float16, -1, 1, 2);
  auto x = transpose(base);  // (7, 5), strides (1, 7)
  const char* src = R"(
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= inp_shape[0] * inp_shape[1]) return;
  const int r = i / inp_shape[1], c = i % inp_shape[1];
  const long long loc = r * inp_strides[0] + c * inp_strides[1];
  float v = static_cast<float>(inp[loc]) * N + (ADD_ONE ? 1.0f : 0.0f);
  out[i] = static_cast<T>(v + inp_ndim);
)";
  auto k = fast::cuda_kernel("scaled", {"inp"}, {"out"}, src, "", /*ensure_row_contiguous=*/false);
  auto outs = k({x}, {{7, 5}}, {float32}, {35, 1, 1}, {32, 1, 1},
                {{"T", float32}, {"N", 3}, {"ADD_ONE", true}}, std::nullopt, false, {});
  auto xv = values(contiguous(x));
  std::vector<double> ref(35);
  for (int i = 0; i < 35; ++i) ref[i] = xv[i] * 3 + 1 + 2;
  EXPECT_TRUE(all_close(outs[0], ref, 1e-6, 1e-6));
  // The same body with T = __half output and ADD_ONE off: a separate instantiation.
  auto outs16 = k({x}, {{7, 5}}, {float16}, {35, 1, 1}, {32, 1, 1},
                  {{"T", float16}, {"N", 2}, {"ADD_ONE", false}}, std::nullopt, false, {});
  EXPECT_EQ(outs16[0].dtype(), float16);
  for (int i = 0; i < 35; ++i) ref[i] = xv[i] * 2 + 2;
  EXPECT_TRUE(all_close(outs16[0], ref, 2e-3, 2e-3));
}

TEST_F(GpuNvrtc, CudaKernelTwoOutputsWithInitValue) {
  const int n = 257;
  auto a = random_array({n}, float32, -1, 1, 3);
  auto b = random_array({n}, float32, -1, 1, 4);
  const char* src = R"(
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= a_shape[0]) return;
  total[i] = a[i] + b[i];
  if (i % 2 == 0) prod[i] = a[i] * b[i];  // odd elements keep the init value
)";
  auto k = fast::cuda_kernel("two_out", {"a", "b"}, {"total", "prod"}, src);
  auto outs = k({a, b}, {{n}, {n}}, {float32, float32}, {n, 1, 1}, {64, 1, 1}, {}, -1.5f, false, {});
  ASSERT_EQ(outs.size(), 2u);
  auto av = values(a), bv = values(b);
  std::vector<double> sum_ref(n), prod_ref(n);
  for (int i = 0; i < n; ++i) {
    sum_ref[i] = av[i] + bv[i];
    prod_ref[i] = i % 2 == 0 ? av[i] * bv[i] : -1.5;
  }
  EXPECT_TRUE(all_close(outs[0], sum_ref, 1e-6, 1e-7));
  EXPECT_TRUE(all_close(outs[1], prod_ref, 1e-6, 1e-7));
}

TEST_F(GpuNvrtc, CudaKernelCompileErrorCarriesLog) {
  auto x = random_array({8}, float32);
  auto k = fast::cuda_kernel("broken", {"inp"}, {"out"}, "  out[0] = undefined_thing(inp[0]);\n");
  auto outs = k({x}, {{8}}, {float32}, {8, 1, 1}, {8, 1, 1}, {}, std::nullopt, false, {});
  auto msg = error_message([&] { eval(outs); });
  EXPECT_NE(msg.find("[nvrtc]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("undefined_thing"), std::string::npos) << msg;
}

TEST_F(GpuNvrtc, DiskCacheHitOnSecondCompile) {
  auto dir = std::filesystem::temp_directory_path() / ("tessera_kernel_cache_test_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  ::setenv("TESSERA_KERNEL_CACHE", dir.c_str(), 1);
  // A source no earlier run has cached (the pid in a comment).
  std::string src = std::string("  // run ") + std::to_string(::getpid()) + "\n" +
                    "  const int i = blockIdx.x * blockDim.x + threadIdx.x;\n  if (i < inp_shape[0]) out[i] = expf(inp[i]);\n";
  auto k = fast::cuda_kernel("cached_exp", {"inp"}, {"out"}, src);
  auto x = random_array({100}, float32, -1, 1, 5);
  auto run = [&] { return k({x}, {{100}}, {float32}, {100, 1, 1}, {128, 1, 1}, {}, std::nullopt, false, {})[0]; };
  auto s0 = cuda::jit_stats();
  auto t0 = std::chrono::steady_clock::now();
  auto y1 = run();
  eval(y1);
  double first = seconds_since(t0);
  auto s1 = cuda::jit_stats();
  EXPECT_EQ(s1.compiles, s0.compiles + 1);
  size_t files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) files += e.path().extension() == ".cubin";
  EXPECT_EQ(files, 1u);
  cuda::jit_clear_memory_cache();
  t0 = std::chrono::steady_clock::now();
  auto y2 = run();
  eval(y2);
  double second = seconds_since(t0);
  auto s2 = cuda::jit_stats();
  EXPECT_EQ(s2.compiles, s1.compiles);
  EXPECT_EQ(s2.disk_hits, s1.disk_hits + 1);
  auto y3 = run();  // now from memory
  eval(y3);
  EXPECT_EQ(cuda::jit_stats().memory_hits, s2.memory_hits + 1);
  EXPECT_TRUE(all_close(y2, values(y1), 0, 0));
  std::printf("[nvrtc] first run (compile) %.1f ms, second run (disk cache) %.1f ms\n", first * 1e3, second * 1e3);
  ::unsetenv("TESSERA_KERNEL_CACHE");
  std::filesystem::remove_all(dir);
}

namespace {

// A chain the fusion takes whole: broadcast (C,) operand, a scalar constant, unary and binary ops.
std::vector<array> chain(const std::vector<array>& a) {
  auto x = a[0], y = a[1];
  auto h = multiply(sigmoid(add(multiply(x, y), array(0.5f, x.dtype()))), tanh(x));
  auto g = divide(exp(negative(abs(y))), add(square(x), array(1.0f, x.dtype())));
  return {subtract(h, maximum(g, sqrt(abs(x))))};
}

double chain_ref(double x, double y) {
  double h = 1.0 / (1.0 + std::exp(-(x * y + 0.5))) * std::tanh(x);
  double g = std::exp(-std::abs(y)) / (x * x + 1.0);
  return h - std::max(g, std::sqrt(std::abs(x)));
}

}  // namespace

TEST_F(GpuNvrtc, FusedChainsMatchUnfused) {
  struct Case {
    Dtype d;
    double tol;
  };
  for (auto [d, tol] : {Case{float32, 1e-5}, Case{float16, 1e-2}, Case{bfloat16, 6e-2}}) {
    for (Shape shape : {Shape{37, 129}, Shape{3, 1, 1001}, Shape{1}}) {
      SCOPED_TRACE(dtype_name(d) + " rank " + std::to_string(shape.size()));
      auto x = random_array(shape, d, -2, 2, 6);
      auto y = random_array({shape.back()}, d, -2, 2, 7);  // broadcast along the leading dims
      auto f = compile(chain);
      auto fused = f({x, y})[0];
      auto plain = chain({x, y})[0];
      eval(fused, plain);
      auto info = f.info();
      EXPECT_GE(info.fused_groups, 1u);
      EXPECT_EQ(fused.dtype(), d);
      auto xv = values(x), yv = values(y);
      std::vector<double> ref(xv.size());
      const size_t C = shape.back();
      for (size_t i = 0; i < xv.size(); ++i) ref[i] = chain_ref(xv[i], yv[i % C]);
      EXPECT_TRUE(all_close(fused, ref, tol, tol));
      EXPECT_TRUE(all_close(fused, values(plain), 2 * tol, 2 * tol));
      // A second call with the same signature replays the cached tape and kernel.
      auto again = f({x, y})[0];
      EXPECT_TRUE(all_close(again, values(fused), 0, 0));
      EXPECT_EQ(f.info().traces, 1);
    }
  }
}

TEST_F(GpuNvrtc, FusedChainStridedInputAndTiming) {
  // A transposed input reaches the kernel as a strided operand.
  auto base = random_array({301, 517}, float32, -1, 1, 8);
  auto y = random_array({301}, float32, -1, 1, 9);
  auto f = compile(chain);
  auto fused = f({transpose(base), y})[0];
  auto xv = values(contiguous(transpose(base))), yv = values(y);
  std::vector<double> ref(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) ref[i] = chain_ref(xv[i], yv[i % 301]);
  EXPECT_TRUE(all_close(fused, ref, 1e-5, 1e-5));

  // Timing: 16M float32 elements, fused vs op by op (after warm-up).
  auto big = random_array({4096, 4096}, float32, -1, 1, 10);
  auto by = random_array({4096}, float32, -1, 1, 11);
  eval(big, by);
  auto g = compile(chain);
  auto time = [&](auto&& fn) {
    eval(fn());
    auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < 10; ++r) eval(fn());
    synchronize();
    return seconds_since(t0) / 10;
  };
  double tf = time([&] { return g({big, by})[0]; });
  double tu = time([&] { return chain({big, by})[0]; });
  std::printf("[compile] 16M-element chain on the GPU: fused %.3f ms, unfused %.3f ms (%.1fx)\n", tf * 1e3, tu * 1e3,
              tu / tf);
  EXPECT_TRUE(all_close(g({big, by})[0], values(chain({big, by})[0]), 1e-5, 1e-5));
}
