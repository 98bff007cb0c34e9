// GPU tests of compile's CUDA graph replay (a compiled function that runs wholly on one GPU stream
// is captured once per input shapes and launched on later calls) and of pinned host staging:
// replayed results against the uncompiled GPU graph and the CPU, replays after inputs change,
// fallbacks, the switch; DISABLED_Timings prints eager vs compiled vs graph per-call times and
// H2D/D2H bandwidths of pageable buffers (direct vs pinned-staged) and pinned ones.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>

#include "tessera/backend/cuda/runtime.h"
#include "tessera/backend/gpu.h"
#include "tessera/compile.h"
#include "gpu_test_utils.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::testing;

namespace {

class GpuCudaGraph : public tessera::testing::GpuTest {};

// Values as float64 (copied to the host).
std::vector<double> values(const array& a) { return astype(a, float64, Device::cpu).to_vector<double>(); }

// f's outputs on `inputs` evaluated on the CPU (the independent reference).
std::vector<std::vector<double>> cpu_reference(const VecFn& f, const std::vector<array>& inputs) {
  std::vector<array> cpu_in;
  for (auto& x : inputs) cpu_in.push_back(copy(x, Device::cpu));
  set_default_device(Device::cpu);
  auto outs = f(cpu_in);
  eval(outs);
  set_default_device(Device::gpu);
  std::vector<std::vector<double>> v;
  for (auto& o : outs) v.push_back(o.to_vector<double>());
  return v;
}

// Every output of the compiled call equals the uncompiled GPU result and the CPU reference.
void expect_matches(const VecFn& f, const std::vector<array>& got, const std::vector<array>& inputs, double rtol,
                    double atol) {
  auto plain = f(inputs);
  eval(plain);
  auto ref = cpu_reference(f, inputs);
  ASSERT_EQ(got.size(), plain.size());
  for (size_t i = 0; i < got.size(); ++i) {
    SCOPED_TRACE("output " + std::to_string(i));
    EXPECT_EQ(got[i].shape(), plain[i].shape());
    EXPECT_TRUE(all_close(got[i], values(plain[i]), rtol, atol));
    EXPECT_TRUE(all_close(got[i], ref[i], rtol, atol));
  }
}

// One-hidden-layer MLP: loss = mean((tanh(x W1 + b1) W2 - y)^2); inputs (x, y, W1, b1, W2).
array mlp_loss(const std::vector<array>& a) {
  auto h = tanh(add(matmul(a[0], a[2]), a[3]));
  auto d = subtract(matmul(h, a[4]), a[1]);
  return mean(square(d));
}

// Forward + backward inside the compiled function: (loss, dW1, db1, dW2).
std::vector<array> mlp_step(const std::vector<array>& a) {
  auto vg = value_and_grad(VecFn([](const std::vector<array>& x) { return std::vector<array>{mlp_loss(x)}; }),
                           std::vector<int>{2, 3, 4});
  auto [vals, grads] = vg(a);
  return {vals[0], grads[0], grads[1], grads[2]};
}

std::vector<array> mlp_inputs(unsigned seed) {
  return {random_array({64, 32}, float32, -1, 1, seed), random_array({64, 8}, float32, -1, 1, seed + 1),
          random_array({32, 48}, float32, -0.3, 0.3, seed + 2), random_array({48}, float32, -0.1, 0.1, seed + 3),
          random_array({48, 8}, float32, -0.3, 0.3, seed + 4)};
}

// 50 small elementwise ops of mixed kinds (fused by compile into a few kernels).
std::vector<array> chain50(const std::vector<array>& a) {
  array x = a[0], y = a[1];
  for (int i = 0; i < 10; ++i) {
    x = add(multiply(x, array(0.9f)), y);
    x = tanh(x);
    x = subtract(x, multiply(y, array(0.1f)));
    x = maximum(x, array(-0.5f));
    x = multiply(x, sigmoid(y));
  }
  return {x};
}

std::vector<array> matmul_softmax(const std::vector<array>& a) { return {softmax(matmul(a[0], a[1]), -1)}; }

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST_F(GpuCudaGraph, MlpForwardBackwardReplays) {
  auto f = compile(mlp_step);
  auto in = mlp_inputs(1);
  auto first = f(in);  // traces; a normal (lazy) replay
  eval(first);
  expect_matches(mlp_step, first, in, 1e-4, 1e-5);
  EXPECT_EQ(f.info().cuda_graph_captures, 0u);
  auto second = f(in);  // warm run + capture: results of the warm run
  EXPECT_EQ(f.info().cuda_graph_captures, 1u) << "fallbacks " << f.info().cuda_graph_fallbacks;
  expect_matches(mlp_step, second, in, 1e-4, 1e-5);
  for (unsigned seed = 10; seed < 13; ++seed) {  // replays on new values
    SCOPED_TRACE("seed " + std::to_string(seed));
    auto in2 = mlp_inputs(seed);
    auto out = f(in2);
    expect_matches(mlp_step, out, in2, 1e-4, 1e-5);
  }
  EXPECT_EQ(f.info().cuda_graph_replays, 3u);
  EXPECT_EQ(f.info().cuda_graph_fallbacks, 0u);
  EXPECT_EQ(f.info().traces, 1);
}

TEST_F(GpuCudaGraph, OutputsOfEarlierReplaysStayIntact) {
  // Copy-out: a replay must not overwrite what an earlier replay returned.
  auto f = compile(matmul_softmax);
  auto a = random_array({33, 70}, float32, -1, 1, 3), b = random_array({70, 129}, float32, -1, 1, 4);
  f({a, b});
  f({a, b});
  auto a2 = random_array({33, 70}, float32, -1, 1, 5);
  auto r1 = f({a, b})[0];
  auto r2 = f({a2, b})[0];
  auto r3 = f({a, b})[0];
  EXPECT_GE(f.info().cuda_graph_replays, 3u);
  auto ref1 = cpu_reference(matmul_softmax, {a, b})[0], ref2 = cpu_reference(matmul_softmax, {a2, b})[0];
  EXPECT_TRUE(all_close(r1, ref1, 1e-4, 1e-6));
  EXPECT_TRUE(all_close(r2, ref2, 1e-4, 1e-6));
  EXPECT_TRUE(all_close(r3, ref1, 1e-4, 1e-6));
  expect_matches(matmul_softmax, {r2}, {a2, b}, 1e-4, 1e-6);
}

TEST_F(GpuCudaGraph, ElementwiseChainOfFiftyOps) {
  auto f = compile(chain50);
  for (unsigned seed = 0; seed < 4; ++seed) {
    SCOPED_TRACE("call " + std::to_string(seed));
    std::vector<array> in = {random_array({7, 1001}, float32, -2, 2, 20 + seed),
                             random_array({7, 1001}, float32, -2, 2, 40 + seed)};
    auto out = f(in);
    expect_matches(chain50, out, in, 1e-5, 1e-6);
  }
  auto info = f.info();
  EXPECT_EQ(info.cuda_graph_captures, 1u);
  EXPECT_EQ(info.cuda_graph_replays, 2u);
}

TEST_F(GpuCudaGraph, ReplayAfterInputChangesAndFeedback) {
  // A training-like loop: outputs fed back as inputs (parameters updated by the graph's gradients).
  auto step = [](const std::vector<array>& a) {
    auto g = mlp_step(a);
    return std::vector<array>{g[0], subtract(a[2], multiply(array(0.1f), g[1])),
                              subtract(a[3], multiply(array(0.1f), g[2])), subtract(a[4], multiply(array(0.1f), g[3]))};
  };
  auto f = compile(step);
  auto in = mlp_inputs(7), ref_in = in;
  std::vector<double> losses, ref_losses;
  for (int it = 0; it < 6; ++it) {
    auto o = f(in);
    auto r = step(ref_in);
    eval(o);
    eval(r);
    losses.push_back(o[0].item<float>());
    ref_losses.push_back(r[0].item<float>());
    in = {in[0], in[1], o[1], o[2], o[3]};
    ref_in = {ref_in[0], ref_in[1], r[1], r[2], r[3]};
  }
  EXPECT_GE(f.info().cuda_graph_replays, 4u);
  for (size_t i = 0; i < losses.size(); ++i) EXPECT_NEAR(losses[i], ref_losses[i], 1e-4 * std::abs(ref_losses[i]) + 1e-6);
  EXPECT_LT(losses.back(), losses.front());  // the updates took effect (the loss decreases)
}

TEST_F(GpuCudaGraph, CpuNodeFallsBackToNormalRuns) {
  // A node on the CPU stream: not capturable, every call replays normally with correct results.
  auto fn = [](const std::vector<array>& a) {
    auto c = exp(a[0], Device::cpu);
    return std::vector<array>{add(c, a[1])};
  };
  auto f = compile(fn);
  for (unsigned s = 0; s < 3; ++s) {
    std::vector<array> in = {random_array({100}, float32, -1, 1, s), random_array({100}, float32, -1, 1, 9 + s)};
    auto out = f(in);
    expect_matches(fn, out, in, 1e-6, 1e-6);
  }
  EXPECT_EQ(f.info().cuda_graph_captures, 0u);
  EXPECT_EQ(f.info().cuda_graph_replays, 0u);
  EXPECT_EQ(f.info().cuda_graph_fallbacks, 1u);
}

TEST_F(GpuCudaGraph, NonDenseInputsAndSwitchOff) {
  auto f = compile(matmul_softmax);
  auto a = random_array({40, 24}, float32, -1, 1, 1), b = random_array({24, 50}, float32, -1, 1, 2);
  f({a, b});
  f({a, b});
  ASSERT_EQ(f.info().cuda_graph_captures, 1u);
  // A transposed (non-dense) input of the same shape: replayed normally, still correct.
  auto bt = transpose(random_array({50, 24}, float32, -1, 1, 3));
  eval(bt);
  auto r = f({a, bt});
  expect_matches(matmul_softmax, r, {a, bt}, 1e-4, 1e-6);
  const size_t replays = f.info().cuda_graph_replays;
  f.set_cuda_graphs(false);
  auto r2 = f({a, b});
  expect_matches(matmul_softmax, r2, {a, b}, 1e-4, 1e-6);
  EXPECT_EQ(f.info().cuda_graph_replays, replays);
}

TEST_F(GpuCudaGraph, ShapelessKeepsOneGraphPerShape) {
  auto f = compile(chain50, /*shapeless=*/true);
  for (int n : {100, 257, 100, 257, 100}) {
    std::vector<array> in = {random_array({3, n}, float32, -1, 1, n), random_array({3, n}, float32, -1, 1, n + 1)};
    auto out = f(in);
    expect_matches(chain50, out, in, 1e-5, 1e-6);
  }
  EXPECT_EQ(f.info().traces, 1);
  EXPECT_EQ(f.info().cuda_graph_fallbacks, 0u) << "a shapeless tape should also capture";
  EXPECT_EQ(f.info().cuda_graph_captures, 2u);
  EXPECT_EQ(f.info().cuda_graph_replays, 2u);
}

TEST_F(GpuCudaGraph, GradOfCompiledStaysLazy) {
  // Tracer inputs (a transform over the compiled function) never go through a graph.
  auto f = compile([](const std::vector<array>& a) { return std::vector<array>{sum(square(tanh(a[0])))}; });
  auto x = random_array({50}, float32, -1, 1, 4);
  f({x});
  f({x});
  auto g = grad([&](const std::vector<array>& a) { return f(a)[0]; })({x})[0];
  auto xv = values(x);
  std::vector<double> ref(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) ref[i] = 2 * std::tanh(xv[i]) * (1 - std::tanh(xv[i]) * std::tanh(xv[i]));
  EXPECT_TRUE(all_close(g, ref, 1e-5, 1e-6));
}

TEST_F(GpuCudaGraph, PinnedStagingRoundTrip) {
  // Odd sizes around and past the 16 MiB chunk and the 1 MiB threshold, through array uploads
  // (host -> device) and downloads (device -> host).
  for (size_t n : {size_t(1) << 18, (size_t(1) << 18) + 7, size_t(4194304 + 12345), size_t(9000001), size_t(3) << 20}) {
    SCOPED_TRACE("floats " + std::to_string(n));
    std::vector<float> host(n);
    for (size_t i = 0; i < n; ++i) host[i] = static_cast<float>((i * 2654435761u) % 1000003) * 0.5f;
    array a(host, {static_cast<ShapeElem>(n)});
    auto b = add(a, array(1.0f));  // uploads a, computes on the GPU
    eval(b);
    auto back = b.to_vector<float>();  // downloads
    ASSERT_EQ(back.size(), n);
    size_t bad = 0;
    for (size_t i = 0; i < n; ++i) bad += back[i] != host[i] + 1.0f;
    EXPECT_EQ(bad, 0u);
  }
}

TEST_F(GpuCudaGraph, DISABLED_Timings) {
  // Per-call host+device time of a 20-layer small-MLP step (forward + backward, many tiny kernels).
  constexpr int kLayers = 20, kWidth = 64, kBatch = 32;
  auto step = [](const std::vector<array>& a) {
    auto loss_fn = [](const std::vector<array>& p) {
      array h = p[0];
      for (int l = 0; l < kLayers; ++l) h = tanh(add(matmul(h, p[1 + 2 * l]), p[2 + 2 * l]));
      return std::vector<array>{mean(square(h))};
    };
    std::vector<int> argnums;
    for (int l = 0; l < 2 * kLayers; ++l) argnums.push_back(1 + l);
    auto [v, g] = value_and_grad(VecFn(loss_fn), argnums)(a);
    std::vector<array> out{v[0]};
    for (auto& x : g) out.push_back(x);
    return out;
  };
  std::vector<array> in{random_array({kBatch, kWidth}, float32, -1, 1, 1)};
  for (int l = 0; l < kLayers; ++l) {
    in.push_back(random_array({kWidth, kWidth}, float32, -0.2, 0.2, 10 + l));
    in.push_back(random_array({kWidth}, float32, -0.1, 0.1, 50 + l));
  }
  eval(in);
  auto time_calls = [&](const std::function<std::vector<array>()>& call) {
    for (int i = 0; i < 5; ++i) eval(call());
    const int n = 50;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) eval(call());
    return seconds_since(t0) / n * 1e6;
  };
  // Host overhead of one eager GPU eval of a tiny op (scheduler, allocator, fence, launch, wait).
  {
    auto x = random_array({256}, float32, -1, 1, 2);
    eval(x);
    const double tiny_us = time_calls([&] { return std::vector<array>{add(x, x)}; });
    std::printf("\none eager eval of add on 256 floats: %.1f us per call\n", tiny_us);
  }
  auto compiled = compile(step);
  auto graphed = compile(step);
  compiled.set_cuda_graphs(false);
  const double eager_us = time_calls([&] { return step(in); });
  const double compiled_us = time_calls([&] { return compiled(in); });
  const double graph_us = time_calls([&] { return graphed(in); });
  auto gi = graphed.info();
  std::printf("\n20-layer MLP step (batch %d, width %d, fwd+bwd), per call incl. eval:\n", kBatch, kWidth);
  std::printf("  %-28s %10.1f us\n", "eager", eager_us);
  std::printf("  %-28s %10.1f us  (tape %zu nodes, %zu fused groups)\n", "compiled", compiled_us,
              gi.tape_nodes, gi.fused_groups);
  std::printf("  %-28s %10.1f us  (captures %zu, replays %zu, fallbacks %zu)\n", "compiled + CUDA graph", graph_us,
              gi.cuda_graph_captures, gi.cuda_graph_replays, gi.cuda_graph_fallbacks);
  EXPECT_EQ(gi.cuda_graph_captures, 1u);

  // Host <-> device copies of 1 GiB: pageable direct, pageable through the pinned stager, pinned.
  const size_t bytes = size_t(1) << 30;
  std::vector<char> pageable(bytes);
  std::memset(pageable.data(), 1, bytes);
  void* dev = gpu::malloc(bytes);
  void* pinned = nullptr;
  ASSERT_EQ(cudaHostAlloc(&pinned, bytes, cudaHostAllocDefault), cudaSuccess);
  std::memset(pinned, 1, bytes);
  auto bw = [&](const std::function<void()>& copy) {
    copy();
    auto t0 = std::chrono::steady_clock::now();
    const int n = 3;
    for (int i = 0; i < n; ++i) copy();
    return double(bytes) * n / seconds_since(t0) / 1e9;
  };
  const bool old = cuda::set_pinned_staging(false);
  const double h2d_direct = bw([&] { gpu::copy_to_device(dev, pageable.data(), bytes); });
  const double d2h_direct = bw([&] { gpu::copy_to_host(pageable.data(), dev, bytes); });
  cuda::set_pinned_staging(true);
  const double h2d_staged = bw([&] { gpu::copy_to_device(dev, pageable.data(), bytes); });
  const double d2h_staged = bw([&] { gpu::copy_to_host(pageable.data(), dev, bytes); });
  const double h2d_pinned = bw([&] { gpu::copy_to_device(dev, pinned, bytes); });
  const double d2h_pinned = bw([&] { gpu::copy_to_host(pinned, dev, bytes); });
  cuda::set_pinned_staging(old);
  std::printf("\n1 GiB host<->device copies (GB/s):      H2D      D2H\n");
  std::printf("  %-34s %8.1f %8.1f\n", "pageable, direct cudaMemcpy", h2d_direct, d2h_direct);
  std::printf("  %-34s %8.1f %8.1f\n", "pageable, pinned staging", h2d_staged, d2h_staged);
  std::printf("  %-34s %8.1f %8.1f\n", "pinned (cudaHostAlloc) source", h2d_pinned, d2h_pinned);
  cudaFreeHost(pinned);
  gpu::free(dev, bytes);
}
