// Timings of the former CPU fallbacks now on the GPU (integer/bool elementwise ops and reductions,
// all/any, integer scans and arg reductions, complex64 conversions, float64 softmax): GPU time and
// bandwidth against the CPU backend on the same host data (correctness: tests/gpu_consistency_tests.cpp).
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>

#include "gpu_test_utils.h"

using namespace tessera;
using namespace tessera::testing;

namespace {

class GpuFallback : public GpuTest {};

// Host milliseconds per call of f (after one warm-up call).
double host_ms(const std::function<void()>& f, int reps) {
  f();
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) f();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / reps;
}

}  // namespace

TEST_F(GpuFallback, DISABLED_Timings) {
  const int M = 4096, N = 4096;
  auto base = random_array({M, N}, float32, -100, 100, 3);
  struct Row {
    std::string name;
    Dtype in;
    std::function<array(const array&, StreamOrDevice)> f;
  };
  std::vector<Row> rows = {
      {"add int64", int64, [](const array& x, StreamOrDevice s) { return add(x, x, s); }},
      {"maximum uint8", uint8, [](const array& x, StreamOrDevice s) { return maximum(x, array(uint8_t(7)), s); }},
      {"power int16", int16, [](const array& x, StreamOrDevice s) { return power(x, array(int16_t(3)), s); }},
      {"sum rows int8->int32", int8, [](const array& x, StreamOrDevice s) { return sum(x, 1, false, s); }},
      {"max cols int64", int64, [](const array& x, StreamOrDevice s) { return max(x, 0, false, s); }},
      {"all rows bool", bool_, [](const array& x, StreamOrDevice s) { return all(x, 1, false, s); }},
      {"argmax rows int64", int64, [](const array& x, StreamOrDevice s) { return argmax(x, 1, false, s); }},
      {"cumsum rows int16", int16, [](const array& x, StreamOrDevice s) { return cumsum(x, 1, false, true, s); }},
      {"astype c64->f32", complex64, [](const array& x, StreamOrDevice s) { return astype(x, float32, s); }},
      {"astype f32->c64", float32, [](const array& x, StreamOrDevice s) { return astype(x, complex64, s); }},
      {"softmax rows f64", float64, [](const array& x, StreamOrDevice s) { return softmax(x, 1, false, s); }},
  };
  std::printf("[gpu fallback timings] %dx%d inputs; GPU: kernel time of the op (CUDA events), CPU: the CPU backend\n",
              M, N);
  std::printf("%-24s %10s %10s %10s %10s\n", "op", "gpu ms", "GB/s", "cpu ms", "cpu/gpu");
  for (auto& r : rows) {
    array x = astype(base, r.in, Device::cpu);
    eval(x);
    array xg = copy(x, Device::gpu);  // a device copy: the GPU timing moves no host data
    eval(xg);
    array probe = r.f(xg, Device::gpu);
    eval(probe);
    double bytes = static_cast<double>(xg.nbytes() + probe.nbytes());
    float g = kernel_ms([&] { eval(r.f(xg, Device::gpu)); }, 10);
    double c = host_ms([&] { eval(r.f(x, Device::cpu)); }, 2);
    std::printf("%-24s %10.3f %10.1f %10.3f %10.1f\n", r.name.c_str(), g, bytes / (g * 1e6), c, c / g);
    EXPECT_GT(g, 0.0f) << r.name;
  }
}
