// GPU device allocator across streams: a block freed while a kernel of another stream still reads
// it is not handed out before that kernel is done; same-stream reuse stays free (allocator stats).
// DISABLED_Timings: float64 elementwise bandwidth and addmm's bias epilogue.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "tessera/backend/cuda/runtime.h"
#include "gpu_test_utils.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::testing;

namespace {

class GpuAllocator : public tessera::testing::GpuTest {};

// A long reader of x on stream s: `depth` matmuls, each reading x (x: (n, n) float32 ~ 1/sqrt(n)).
array long_reader(const array& x, int depth, Stream s) {
  array acc = x;
  for (int i = 0; i < depth; ++i) acc = matmul(x, acc, s);
  return acc;
}

// exp of x's values in float64 (the tests' reference for their exp kernels).
std::vector<double> exp_reference(array x) {
  auto v = x.to_vector<double>();
  for (auto& e : v) e = std::exp(e);
  return v;
}

void wait_queued(const array& a) {
  while (a.status() != array::Status::available && a.status() != array::Status::failed) {
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

void print_stats(const char* when) {
  auto st = gpu::allocator_stats();
  std::printf("[allocator %s] same-stream reuses %zu, free reuses %zu, fenced reuses %zu, fenced waits %zu, "
              "cudaMalloc %zu, deferred %zu\n",
              when, st.same_stream_reuses, st.free_reuses, st.fenced_reuses, st.fenced_waits, st.cuda_mallocs,
              st.deferred);
}

}  // namespace

// Stream B runs a long chain of matmuls reading X; X's last reference then dies on stream A, which
// at once allocates a buffer of X's size and writes it. Handing X's block to A (it freed it) would
// overwrite X under B's kernels.
TEST_F(GpuAllocator, BlockReadByAnotherStreamIsNotReusedEarly) {
  auto sa = new_stream(Device::gpu);
  auto sb = new_stream(Device::gpu);
  const int n = 4096, depth = 6;
  auto xh = random_array({n, n}, float32, -1, 1, 11);
  auto xv = xh.to_vector<double>();
  for (int rep = 0; rep < 4; ++rep) {
    array x = multiply(xh, array(1.0f / 64), sa);  // device-only, made on A
    eval(x);
    // Reference: the same chain with nothing freed under it.
    auto ref = long_reader(x, depth, sa);
    eval(ref);
    auto refv = ref.to_vector<double>();
    ref = array(0.0f);
    auto before = gpu::allocator_stats();

    auto yb = long_reader(x, depth, sb);  // B reads X for milliseconds
    auto ya = multiply(x, array(2.0f), sa);
    async_eval({yb});
    wait_queued(yb);       // B's kernels are queued (maybe still running)
    x = array(0.0f);       // X now lives only in ya's graph: it dies on A after ya ran
    auto z = add(ya, array(1.0f), sa);  // a fresh (n, n) buffer written on A at once
    eval(z);
    eval(yb);

    auto after = gpu::allocator_stats();
    std::printf("rep %d: blocks passed over while another stream's fence was pending: %zu\n", rep,
                after.deferred - before.deferred);
    ASSERT_TRUE(all_close(yb, refv, 1e-4, 1e-4)) << "rep " << rep << ": X was overwritten under stream B";
    std::vector<double> zref(xv.size());
    for (size_t i = 0; i < xv.size(); ++i) zref[i] = 2.0 * (xv[i] / 64) + 1.0;
    ASSERT_TRUE(all_close(z, zref, 1e-5, 1e-6)) << "rep " << rep;
  }
  print_stats("after cross-stream reuse");
}

// A block used only by one stream goes back to that stream without a cudaMalloc.
TEST_F(GpuAllocator, SameStreamReuseIsFree) {
  auto sa = new_stream(Device::gpu);
  auto x = random_array({1000, 37}, float32, -1, 1, 12);
  auto y = exp(x, sa);
  eval(y);
  y = array(0.0f);  // its block returns to the pool, tagged with stream A
  auto before = gpu::allocator_stats();
  auto z = exp(x, sa);
  eval(z);
  auto after = gpu::allocator_stats();
  EXPECT_EQ(after.cuda_mallocs, before.cuda_mallocs);
  EXPECT_GE(after.same_stream_reuses, before.same_stream_reuses + 1);
  EXPECT_TRUE(all_close(z, exp_reference(x), 1e-5, 1e-6));
}

// A block read by two streams serves a third stream once both streams' fences are reached, again
// without a cudaMalloc.
TEST_F(GpuAllocator, BlockOfTwoStreamsServesAnotherAfterItsFences) {
  auto sa = new_stream(Device::gpu);
  auto sb = new_stream(Device::gpu);
  auto sc = new_stream(Device::gpu);
  auto xh = random_array({777, 33}, float32, -1, 1, 13);
  auto x = exp(xh, sa);
  auto ya = multiply(x, array(3.0f), sa);
  auto yb = multiply(x, array(5.0f), sb);
  eval({ya, yb});
  x = array(0.0f);
  ya = array(0.0f);
  yb = array(0.0f);  // X's block gets fences on A and B; ya's and yb's stay with A and B
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the idle device reaches them
  auto before = gpu::allocator_stats();
  auto w = exp(xh, sc);
  eval(w);
  auto after = gpu::allocator_stats();
  EXPECT_EQ(after.cuda_mallocs, before.cuda_mallocs);
  EXPECT_EQ(after.fenced_reuses, before.fenced_reuses + 1);
  EXPECT_TRUE(all_close(w, exp_reference(xh), 1e-5, 1e-6));
  print_stats("after two-stream block");
}

namespace {

// Mean milliseconds of f() over reps evaluations (after one warm-up), the device idle around it.
double time_ms(const std::function<array()>& f, int reps) {
  eval(f());
  synchronize();
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) eval(f());
  synchronize();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / reps;
}

}  // namespace

// Timings of this work's GPU paths: float64 elementwise (bandwidth) and addmm with a bias row (the
// Lt bias epilogue) against matmul then add (two kernels). Run with --gtest_also_run_disabled_tests.
TEST_F(GpuAllocator, DISABLED_Timings) {
  const int n = 1 << 25;  // 32 M doubles: 256 MB an operand
  auto x = random_array({n}, float32, -1, 1, 31);
  auto y = random_array({n}, float32, -1, 1, 32);
  auto xd = astype(x, float64), yd = astype(y, float64);
  eval(xd, yd);
  std::printf("[f64 elementwise] %-28s %9s %9s\n", "op", "ms", "GB/s");
  for (auto [name, bytes, f] : std::vector<std::tuple<std::string, double, std::function<array()>>>{
           {"add (2^25,) f64", 3.0 * 8 * n, [&] { return add(xd, yd); }},
           {"exp (2^25,) f64", 2.0 * 8 * n, [&] { return exp(xd); }},
           {"greater (2^25,) f64", 2.0 * 8 * n + n, [&] { return greater(xd, yd); }},
           {"astype f64->f32 (2^25,)", 12.0 * n, [&] { return astype(xd, float32); }},
           {"sum (2^25,) f64", 8.0 * n, [&] { return sum(xd); }}}) {
    double ms = time_ms(f, 10);
    std::printf("[f64 elementwise] %-28s %9.3f %9.1f\n", name.c_str(), ms, bytes / ms / 1e6);
  }
  std::printf("[addmm bias] %-30s %9s %9s %9s %9s\n", "shape", "epi ms", "TFLOP/s", "mm+add ms", "TFLOP/s");
  for (auto [M, K, N] : std::vector<std::tuple<int, int, int>>{{512, 4096, 11008}, {4096, 4096, 4096}, {64, 4096, 4096}}) {
    auto a = astype(random_array({M, K}, float32, -1, 1, 33), bfloat16);
    auto b = astype(random_array({K, N}, float32, -1, 1, 34), bfloat16);
    auto bias = astype(random_array({N}, float32, -1, 1, 35), bfloat16);
    eval(a, b, bias);
    double flops = 2.0 * M * K * N;
    double epi = time_ms([&] { return addmm(bias, a, b); }, 20);
    double two = time_ms([&] { return add(matmul(a, b), bias); }, 20);
    char shape[64];
    std::snprintf(shape, sizeof(shape), "bf16 %dx%dx%d", M, K, N);
    std::printf("[addmm bias] %-30s %9.3f %9.1f %9.3f %9.1f\n", shape, epi, flops / epi / 1e9, two, flops / two / 1e9);
  }
  print_stats("after timings");
}
