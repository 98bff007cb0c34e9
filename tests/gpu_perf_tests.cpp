// GPU tests of the fast paths (binary tessera_gpu_tests): vectorized elementwise ops (odd sizes,
// misaligned views, broadcast operands, 16-bit types), register-held rms_norm/softmax rows,
// chunked/tiled reductions, cuBLASLt/cuBLAS matmul, and a scheduler that queues GPU work without
// a host synchronization per op. Every case is compared with the CPU backend or float64.
#include <cmath>
#include <functional>

#include "tessera/backend/gpu.h"
#include "gpu_perf_refs.h"
#include "gpu_test_utils.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::testing;

namespace {

class GpuPerf : public tessera::testing::GpuTest {};

// Relative tolerance of one rounding in dtype d (float32 results also differ in the last bits of
// exp between the CUDA and CPU libraries).
double tol(Dtype d) { return d == bfloat16 ? 8e-3 : d == float16 ? 1e-3 : 2e-6; }

// f evaluated on the GPU equals f on the CPU (same inputs) within rtol.
::testing::AssertionResult gpu_matches_cpu(const std::function<array(StreamOrDevice)>& f, double rtol,
                                           double atol = 1e-6) {
  array g = f(Device::gpu);
  array c = f(Device::cpu);
  eval(g, c);
  if (g.shape() != c.shape()) return ::testing::AssertionFailure() << "shapes differ";
  if (g.dtype() != c.dtype()) return ::testing::AssertionFailure() << "dtypes differ";
  return all_close(g, c.to_vector<double>(), rtol, atol);
}

const Dtype kFloatTypes[] = {float32, float16, bfloat16};

}  // namespace

TEST_F(GpuPerf, ElementwiseOddSizesAllFloatTypes) {
  for (Dtype d : kFloatTypes) {
    for (int n : {1, 3, 7, 8, 9, 1023, 4097, (1 << 20) + 5}) {
      SCOPED_TRACE(std::string(d == float32 ? "f32" : d == float16 ? "f16" : "bf16") + " n=" + std::to_string(n));
      auto a = random_array({n}, d, -2, 2, 1);
      auto b = random_array({n}, d, -2, 2, 2);
      eval(a, b);
      EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice s) { return add(a, b, s); }, tol(d)));
      EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice s) { return multiply(a, b, s); }, tol(d)));
      EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice s) { return exp(a, s); }, tol(d)));
      EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice s) { return greater(a, b, s); }, 0, 0));
      EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice s) { return multiply(a, array(1.5f, d), s); }, tol(d)));
    }
  }
}

TEST_F(GpuPerf, ElementwiseMisalignedViews) {
  // Views starting 1..3 elements into the buffer: pointers not 16-byte aligned (scalar fallback),
  // and one view whose start is aligned for one operand only.
  for (Dtype d : kFloatTypes) {
    const int n = 10007;
    auto a = random_array({n + 8}, d, -2, 2, 3);
    auto b = random_array({n + 8}, d, -2, 2, 4);
    eval(a, b);
    for (int off : {1, 2, 3, 8}) {
      SCOPED_TRACE("offset " + std::to_string(off));
      auto av = slice(a, {off}, {off + n});
      auto bv = slice(b, {0}, {n});
      EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice s) { return add(av, bv, s); }, tol(d)));
      EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice s) { return exp(av, s); }, tol(d)));
      EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice s) { return less(av, bv, s); }, 0, 0));
    }
  }
}

TEST_F(GpuPerf, ElementwiseBroadcastOperands) {
  for (Dtype d : kFloatTypes) {
    for (int cols : {64, 67}) {  // rows of whole packs, and not
      SCOPED_TRACE("cols " + std::to_string(cols));
      auto x = random_array({33, cols}, d, -2, 2, 5);
      auto row = random_array({cols}, d, -2, 2, 6);
      auto col = random_array({33, 1}, d, -2, 2, 7);
      auto s = sum(random_array({5}, d, 0, 1, 8));  // a one-element array computed on the GPU
      auto x3 = random_array({4, 33, cols}, d, -2, 2, 9);
      eval(x, row, col, s, x3);
      EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice st) { return add(x, row, st); }, tol(d)));
      EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice st) { return subtract(row, x, st); }, tol(d)));
      EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice st) { return multiply(x, col, st); }, tol(d)));
      EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice st) { return divide(col, x, st); }, 2 * tol(d)));
      EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice st) { return multiply(x, s, st); }, tol(d)));
      EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice st) { return add(x3, row, st); }, tol(d)));
      EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice st) { return maximum(x3, col, st); }, tol(d)));
      // Transposed operand: general strides.
      auto xt = transpose(random_array({cols, 33}, d, -2, 2, 10));
      EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice st) { return add(x, xt, st); }, tol(d)));
    }
  }
}

TEST_F(GpuPerf, ElementwiseInt32) {
  auto a = astype(random_array({1001}, float32, -1000, 1000, 11), int32);
  auto b = astype(random_array({1001}, float32, -1000, 1000, 12), int32);
  eval(a, b);
  EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice s) { return add(a, b, s); }, 0, 0));
  EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice s) { return multiply(slice(a, {1}, {1001}), slice(b, {0}, {1000}), s); },
                              0, 0));
  EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice s) { return abs(a, s); }, 0, 0));
}


TEST_F(GpuPerf, RmsNormRowsAgainstFloat64) {
  struct Case {
    int rows, d;
    Dtype dt, wdt;
    bool weight;
  };
  // Register-held rows (d a multiple of the pack), odd d (streaming kernel), rows too long for
  // registers, float32 weights with 16-bit x, and no weight.
  const Case cases[] = {{3, 4096, bfloat16, bfloat16, true},  {5, 1000, float32, float32, true},
                        {7, 1001, float32, float32, true},    {2, 16384, bfloat16, bfloat16, true},
                        {4, 8192, float32, float32, true},    {6, 2048, float16, float32, true},
                        {9, 64, bfloat16, bfloat16, false},   {3, 8, float16, float16, true},
                        {2, 12, bfloat16, bfloat16, true}};
  for (auto& c : cases) {
    SCOPED_TRACE("rows " + std::to_string(c.rows) + " d " + std::to_string(c.d));
    auto x = random_array({c.rows, c.d}, c.dt, -2, 2, 13);
    auto w = random_array({c.d}, c.wdt, 0.5, 1.5, 14);
    eval(x, w);
    auto y = fast::rms_norm(x, c.weight ? std::optional<array>(w) : std::nullopt, 1e-5f);
    auto ref = ref_rms_norm(x.to_vector<double>(), c.weight ? w.to_vector<double>() : std::vector<double>{},
                            c.rows, c.d, 1e-5);
    EXPECT_TRUE(all_close(y, ref, 2 * tol(c.dt), 1e-5));
  }
  // A misaligned row start (a view one element in): the streaming kernel.
  auto big = random_array({4 * 256 + 1}, bfloat16, -2, 2, 15);
  auto w = random_array({256}, bfloat16, 0.5, 1.5, 16);
  auto xv = reshape(slice(big, {1}, {4 * 256 + 1}), {4, 256});
  auto y = fast::rms_norm(xv, w, 1e-5f);
  EXPECT_TRUE(all_close(y, ref_rms_norm(xv.to_vector<double>(), w.to_vector<double>(), 4, 256, 1e-5), 2 * tol(bfloat16),
                        1e-5));
}

TEST_F(GpuPerf, SoftmaxRowsAgainstFloat64) {
  struct Case {
    int rows, d;
    Dtype dt;
  };
  const Case cases[] = {{3, 1000, bfloat16}, {5, 1001, float32}, {4, 8192, bfloat16}, {2, 16384, float32},
                        {7, 128, float16},   {3, 4, float32},    {2, 3, bfloat16},    {1, 2048, float32}};
  for (auto& c : cases) {
    SCOPED_TRACE("rows " + std::to_string(c.rows) + " d " + std::to_string(c.d));
    auto x = random_array({c.rows, c.d}, c.dt, -8, 8, 17);
    eval(x);
    auto xv = x.to_vector<double>();
    EXPECT_TRUE(all_close(softmax(x, -1), ref_softmax(xv, c.rows, c.d, false), 2 * tol(c.dt), 1e-7));
    EXPECT_TRUE(all_close(log_softmax(x, -1), ref_softmax(xv, c.rows, c.d, true), 2 * tol(c.dt), 1e-4));
  }
}

TEST_F(GpuPerf, ReductionsLayoutsAgainstCpu) {
  for (Dtype d : kFloatTypes) {
    SCOPED_TRACE(d == float32 ? "f32" : d == float16 ? "f16" : "bf16");
    double rt = d == float32 ? 1e-5 : 2e-2;
    // One long row (chunked over many blocks, then combined), odd length, misaligned start.
    auto v = random_array({(1 << 22) + 3}, d, -1, 1, 18);
    auto v2 = random_array({1 << 20}, d, 0.5, 1, 19);
    eval(v, v2);
    EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice s) { return sum(v, false, s); }, rt, 0.5));
    EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice s) { return mean(v2, false, s); }, rt, 1e-4));
    EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice s) { return max(v, false, s); }, 0, 0));
    EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice s) { return min(slice(v, {1}, {(1 << 22) + 3}), false, s); }, 0, 0));
    // Rows (outer, len): vectorized when len is a whole number of packs.
    auto m = random_array({64, 4096}, d, -1, 1, 20);
    auto m2 = random_array({37, 1001}, d, -1, 1, 21);
    eval(m, m2);
    EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice s) { return sum(m, -1, false, s); }, rt, 0.05));
    EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice s) { return mean(m2, -1, false, s); }, rt, 1e-3));
    EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice s) { return max(m2, -1, false, s); }, 0, 0));
    // Columns (outer, len, inner): tiled when inner >= 32, per-output threads below.
    EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice s) { return sum(m, 0, false, s); }, rt, 0.02));
    EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice s) { return max(m2, 0, false, s); }, 0, 0));
    auto t = random_array({3, 500, 70}, d, -1, 1, 22);
    auto t2 = random_array({5, 33, 7}, d, -1, 1, 23);
    eval(t, t2);
    EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice s) { return sum(t, 1, false, s); }, rt, 0.02));
    EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice s) { return mean(t, 1, false, s); }, rt, 1e-3));
    EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice s) { return prod(t2, 1, false, s); }, 10 * rt, 1e-6));
    EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice s) { return min(t2, 1, false, s); }, 0, 0));
  }
  auto iv = astype(random_array({(1 << 20) + 7}, float32, -100, 100, 24), int32);
  eval(iv);
  EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice s) { return sum(iv, false, s); }, 0, 0));
  EXPECT_TRUE(gpu_matches_cpu([&](StreamOrDevice s) { return max(reshape(iv, {1, -1}), 1, false, s); }, 0, 0));
}


TEST_F(GpuPerf, MatmulPathsAgainstFloat64) {
  // float32 is exact float32 by default (no TF32): 1e-5 relative fails with 10-bit mantissas.
  {
    auto a = random_array({33, 257}, float32, -1, 1, 25);
    auto b = random_array({257, 17}, float32, -1, 1, 26);
    auto ref = ref_bmm(a.to_vector<double>(), b.to_vector<double>(), 1, 33, 257, 17, false);
    EXPECT_TRUE(all_close(matmul(a, b), ref, 1e-5, 1e-5));
  }
  struct Case {
    int B, M, K, N;
    bool b_broadcast, b_transposed;
  };
  // M > 16 goes through cuBLASLt, M <= 16 (decode rows) through cuBLAS; batches strided, with a
  // broadcast right operand, and weights used transposed (x @ W.T) in place.
  const Case cases[] = {{1, 64, 256, 96, false, false}, {1, 1, 4096, 1000, false, true}, {1, 16, 512, 300, false, true},
                        {3, 40, 64, 24, false, false},  {3, 40, 64, 24, true, false},    {2, 17, 33, 9, false, true},
                        {1, 512, 1024, 520, false, true}};
  for (Dtype d : {float16, bfloat16}) {
    for (auto& c : cases) {
      SCOPED_TRACE("B " + std::to_string(c.B) + " M " + std::to_string(c.M) + " K " + std::to_string(c.K) + " N " +
                   std::to_string(c.N));
      auto a = random_array({c.B, c.M, c.K}, d, -1, 1, 27);
      array b = c.b_transposed ? transpose(random_array({c.B, c.N, c.K}, d, -1, 1, 28), {0, 2, 1})
                               : random_array({c.b_broadcast ? 1 : c.B, c.K, c.N}, d, -1, 1, 28);
      if (c.b_broadcast) b = reshape(b, {c.K, c.N});
      eval(a, b);
      auto ref = ref_bmm(a.to_vector<double>(), b.to_vector<double>(), c.B, c.M, c.K, c.N, c.b_broadcast);
      // Inputs are exact in d; the result is rounded once (accumulation in float32).
      EXPECT_TRUE(all_close(matmul(a, b), ref, tol(d), 2e-3 * std::sqrt(static_cast<double>(c.K))));
    }
    // A left operand starting 1 element into its buffer (pointer alignment 2 bytes).
    auto big = random_array({1 + 48 * 64}, d, -1, 1, 29);
    auto a = reshape(slice(big, {1}, {1 + 48 * 64}), {48, 64});
    auto b = random_array({64, 40}, d, -1, 1, 30);
    eval(a, b);
    auto ref = ref_bmm(a.to_vector<double>(), b.to_vector<double>(), 1, 48, 64, 40, false);
    EXPECT_TRUE(all_close(matmul(a, b), ref, tol(d), 2e-2));
  }
}

TEST_F(GpuPerf, SchedulerQueuesGpuChainsWithoutSyncPerOp) {
  // A long single-stream chain: one eval, one host wait.
  auto x0 = random_array({1 << 16}, float32, -1, 1, 31);
  eval(x0);
  auto xv = x0.to_vector<double>();
  const int n_ops = 400;
  array x = x0;
  std::vector<double> ref = xv;
  for (int i = 0; i < n_ops; ++i) {
    if (i % 2 == 0) {
      x = add(x, array(0.25f));
      for (auto& r : ref) r += 0.25;
    } else {
      x = multiply(x, array(0.5f));
      for (auto& r : ref) r *= 0.5;
    }
  }
  size_t before = gpu::sync_count();
  eval(x);
  size_t syncs = gpu::sync_count() - before;
  EXPECT_GE(syncs, 1u);  // eval returning waits for the GPU
  EXPECT_LE(syncs, 2u) << "a GPU chain of " << n_ops << " ops synchronized per op";
  EXPECT_TRUE(all_close(x, ref, 1e-5, 1e-6));

  // Ping-pong between two GPU streams: every op reads the other stream's result. Cross-stream
  // order comes from device-side waits on fences, not host synchronizations.
  auto s1 = new_stream(Device::gpu);
  auto s2 = new_stream(Device::gpu);
  array y = x0;
  ref = xv;
  for (int i = 0; i < n_ops; ++i) {
    y = i % 2 ? multiply(y, array(0.5f), s2) : add(y, array(0.25f), s1);
    for (auto& r : ref) r = i % 2 ? r * 0.5 : r + 0.25;
  }
  before = gpu::sync_count();
  eval(y);
  syncs = gpu::sync_count() - before;
  EXPECT_LE(syncs, 2u) << "cross-stream GPU ops synchronized the host";
  EXPECT_TRUE(all_close(y, ref, 1e-5, 1e-6));

  // async_eval, then consumers on another GPU stream and on the CPU (the host waits there only).
  auto big = random_array({1 << 22}, float32, -1, 1, 32);
  eval(big);
  auto bv = big.to_vector<double>();
  auto e = exp(big, s1);
  async_eval({e});
  auto f = multiply(e, array(2.0f), s2);
  auto g = add(f, array(1.0f), Device::cpu);
  std::vector<double> gref(bv.size());
  for (size_t i = 0; i < bv.size(); ++i) gref[i] = 2.0 * std::exp(bv[i]) + 1.0;
  EXPECT_TRUE(all_close(g, gref, 1e-5, 1e-5));
  synchronize();
}

TEST_F(GpuPerf, BuffersFreedOnTheHostAreNotReusedEarly) {
  // Intermediates dropped by the host while their readers may still be queued: results stay right
  // across many evaluations that recycle the same pool sizes on two streams.
  auto s1 = new_stream(Device::gpu);
  auto s2 = new_stream(Device::gpu);
  auto base = random_array({1 << 20}, float32, -1, 1, 33);
  eval(base);
  auto bv = base.to_vector<double>();
  for (int it = 0; it < 20; ++it) {
    array t = add(base, array(static_cast<float>(it)), s1);
    async_eval({t});
    array u = multiply(t, array(2.0f), s2);
    t = array(0.0f);  // the host drops its handle; u's graph still holds t
    array w = add(u, array(1.0f), s1);
    async_eval({w});
    u = array(0.0f);
    array z = subtract(w, base, s2);  // = base + 2 it + 1
    std::vector<double> ref(bv.size());
    for (size_t i = 0; i < bv.size(); ++i) ref[i] = bv[i] + 2.0 * it + 1.0;
    ASSERT_TRUE(all_close(z, ref, 1e-5, 1e-5)) << "iteration " << it;
  }
}
