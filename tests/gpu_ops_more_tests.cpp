// GPU tests (tessera_gpu_tests) of the primitives that used to fall back to the CPU: dynamic slice
// chains with device-resident starts (a KV-cache write loop), AddMM/float64/complex64 GEMMs against
// float64 references, host writes through exported buffers reaching later GPU kernels, and a
// DISABLED_Timings table (run with --gtest_also_run_disabled_tests).
#include <chrono>
#include <cmath>
#include <complex>
#include <cstdio>
#include <functional>

#include "tessera/backend/gpu.h"
#include "tessera/backend/gpu_fallback.h"
#include "tessera/host_export.h"
#include "tessera/random.h"
#include "gpu_perf_refs.h"
#include "gpu_test_utils.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::testing;

namespace {

class GpuOpsMore : public tessera::testing::GpuTest {};

}  // namespace

// A decode-style loop: every step writes one row at a position computed on the GPU (pos + 1), then
// reads a window back with dynamic_slice. The starts never visit the host; the result equals the
// same loop on the CPU, and no step falls back.
TEST_F(GpuOpsMore, DynamicSliceChainWithDeviceStarts) {
  const int steps = 24, L = 32, D = 19;
  auto run = [&](StreamOrDevice s) {
    array cache = zeros({L, D}, float32, s);
    array pos = array(std::vector<int32_t>{-1, 0}, {2});  // (row, col): row advances on the device
    array one = array(std::vector<int32_t>{1, 0}, {2});
    array acc = zeros({4, D}, float32, s);
    for (int t = 0; t < steps; ++t) {
      pos = add(pos, one, s);
      array row = reshape(astype(arange(t * D, (t + 1) * D, 1, int32, s), float32, s), {1, D}, s);
      cache = dynamic_slice_update(cache, row, pos, {0, 1}, s);
      acc = add(acc, dynamic_slice(cache, subtract(pos, array(std::vector<int32_t>{2, 0}, {2}), s), {0, 1}, {4, D}, s), s);
    }
    return concatenate({cache, acc}, 0, s);
  };
  reset_gpu_fallback_counts();
  array g = run(Device::gpu);
  eval(g);
  EXPECT_EQ(gpu_fallback_count("DynamicSlice"), 0u);
  EXPECT_EQ(gpu_fallback_count("DynamicSliceUpdate"), 0u);
  array c = run(Device::cpu);
  eval(c);
  EXPECT_EQ(g.to_vector<float>(), c.to_vector<float>());
  // Rows 0..steps-1 hold t*D + j (a check of the loop itself, independent of the CPU backend).
  auto gv = g.to_vector<float>();
  EXPECT_EQ(gv[5 * D + 3], static_cast<float>(5 * D + 3));
  EXPECT_EQ(gv[(steps - 1) * D], static_cast<float>((steps - 1) * D));
  // acc (rows L.. of the result) [0][0] sums cache[max(t - 2, 0)][0] = max(t - 2, 0) * D over the steps.
  EXPECT_EQ(gv[L * D], static_cast<float>(D * (steps - 3) * (steps - 2) / 2));
}

// AddMM with alpha/beta, a broadcast bias row, batches and transposed operands, in every GEMM dtype,
// against float64 host references.
TEST_F(GpuOpsMore, AddmmAgainstFloat64) {
  const int M = 33, K = 70, N = 21;
  auto av = random_values(M * K, -1, 1, 1), bv = random_values(K * N, -1, 1, 2), cv = random_values(N, -1, 1, 3);
  auto ref = ref_bmm(av, bv, 1, M, K, N, false);
  for (size_t i = 0; i < ref.size(); ++i) ref[i] = 0.75 * ref[i] - 2.0 * cv[i % N];
  for (Dtype d : {float32, float16, bfloat16, float64}) {
    array a = astype(array(av, {M, K}), d), b = astype(array(bv, {K, N}), d);
    array bt = transpose(contiguous(transpose(b)));  // same values, column-major layout
    array c = astype(array(cv, {N}), d);
    for (const array& bb : {b, bt}) {
      array out = addmm(c, a, bb, 0.75f, -2.0f);
      eval(out);
      double rtol = d == float64 ? 1e-12 : d == float32 ? 1e-5 : d == float16 ? 4e-3 : 2e-2;
      EXPECT_TRUE(all_close(astype(out, float64), ref, rtol, rtol * 8)) << dtype_name(d);
    }
  }
}

// complex64 GEMM (cuBLAS Cgemm path) and elementwise ops against std::complex<double> references.
TEST_F(GpuOpsMore, ComplexAgainstDoubleReference) {
  const int M = 7, K = 45, N = 5;
  auto re_a = random_values(M * K, -1, 1, 4), im_a = random_values(M * K, -1, 1, 5);
  auto re_b = random_values(K * N, -1, 1, 6), im_b = random_values(K * N, -1, 1, 7);
  std::vector<complex64_t> av(M * K), bv(K * N);
  for (size_t i = 0; i < av.size(); ++i) av[i] = complex64_t(float(re_a[i]), float(im_a[i]));
  for (size_t i = 0; i < bv.size(); ++i) bv[i] = complex64_t(float(re_b[i]), float(im_b[i]));
  array a(av, {M, K}, complex64), b(bv, {K, N}, complex64);
  array p = matmul(a, b);
  array q = divide(multiply(slice(a, {0, 0}, {M, N}), conjugate(slice(a, {0, 1}, {M, N + 1}))),
                   add(slice(b, {0, 0}, {M, N}), array(complex64_t(0.5f, 0.25f))));
  eval(p, q);
  auto pre = real(p).to_vector<double>(), pim = imag(p).to_vector<double>();
  auto qre = real(q).to_vector<double>(), qim = imag(q).to_vector<double>();
  using cd = std::complex<double>;
  auto A = [&](int i, int k) { return cd(av[i * K + k].real(), av[i * K + k].imag()); };
  auto Bm = [&](int k, int j) { return cd(bv[k * N + j].real(), bv[k * N + j].imag()); };
  for (int i = 0; i < M; ++i) {
    for (int j = 0; j < N; ++j) {
      cd s = 0;
      for (int k = 0; k < K; ++k) s += A(i, k) * Bm(k, j);
      EXPECT_NEAR(pre[i * N + j], s.real(), 2e-5) << i << "," << j;
      EXPECT_NEAR(pim[i * N + j], s.imag(), 2e-5) << i << "," << j;
      cd e = A(i, j) * std::conj(A(i, j + 1)) / (Bm(i, j) + cd(0.5, 0.25));
      EXPECT_NEAR(qre[i * N + j], e.real(), 1e-5 * (1 + std::abs(e))) << i << "," << j;
      EXPECT_NEAR(qim[i * N + j], e.imag(), 1e-5 * (1 + std::abs(e))) << i << "," << j;
    }
  }
}

// The host copy of an array handed out writable (NumPy / memoryview / CPU DLPack do this through
// mark_host_exported, host_export.h) may be written at any time: GPU kernels that run afterwards see the writes,
// also writes made after a later upload.
TEST_F(GpuOpsMore, HostWritesAfterExportReachGpuKernels) {
  array a = array({1.0f, 2.0f, 3.0f, 4.0f});
  eval(a);
  eval(add(a, array(1.0f)));  // uploads a
  float* p = a.data<float>();
  mark_host_exported(a);
  p[0] = 100.0f;
  array b = add(a, array(1.0f));
  eval(b);
  EXPECT_EQ(b.to_vector<float>(), (std::vector<float>{101.0f, 3.0f, 4.0f, 5.0f}));
  p[1] = 200.0f;  // after the upload above
  array c = multiply(a, array(2.0f));
  eval(c);
  EXPECT_EQ(c.to_vector<float>(), (std::vector<float>{200.0f, 400.0f, 6.0f, 8.0f}));
  // A GPU kernel writing the buffer in place (donation) makes the device side the valid one: the
  // exported flag must not upload the stale host bytes over it.
  array e = zeros({4}, float32);
  eval(e);
  mark_host_exported(e);
  array f = slice_update(e, array({7.0f}), {2}, {3});
  e = array(0);  // f may take e's buffer
  eval(f);
  EXPECT_EQ(add(f, array(0.0f)).to_vector<float>(), (std::vector<float>{0.0f, 0.0f, 7.0f, 0.0f}));
}

// Timings of the former fallbacks on the GPU (for RESULTS.md); results are checked by the tests above.
TEST_F(GpuOpsMore, DISABLED_Timings) {
  auto time_ms = [](const std::function<array()>& f) {
    eval(f());
    synchronize();
    const int reps = 10;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) eval(f());
    synchronize();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / reps;
  };
  auto key = random::key(3);
  auto big = random::normal({4096, 4096}, float32, key);
  auto cache = zeros({8, 4096, 1024}, bfloat16);
  auto upd = random::normal({8, 1, 1024}, bfloat16, key);
  auto start = add(array(std::vector<int32_t>{0, 2047, 0}, {3}), array(0));
  auto a64 = random::normal({2048, 2048}, float64, key);
  auto c1 = astype(random::normal({4096, 4096}, float32, key), complex64);
  auto cm = astype(random::normal({2048, 2048}, float32, key), complex64);
  auto x16 = random::normal({4096, 4096}, bfloat16, key);
  auto w16 = random::normal({4096, 4096}, bfloat16, key);
  auto bias = random::normal({4096}, bfloat16, key);
  eval(big, cache, upd, start, a64, c1, cm, x16, w16, bias);
  struct Row {
    const char* name;
    std::function<array()> f;
    double bytes, flops;
  };
  std::vector<Row> rows = {
      {"random.normal f32 (4096^2)", [&] { return random::normal({4096, 4096}, float32, key); }, 4096.0 * 4096 * 8, 0},
      {"random.uniform bf16 (4096^2)", [&] { return random::uniform({4096, 4096}, bfloat16, key); }, 4096.0 * 4096 * 6, 0},
      {"permutation rows f32 (4096, 4096)", [&] { return random::permutation(big, 0, key); }, 4096.0 * 4096 * 8, 0},
      {"dynamic_slice_update kv (8,4096,1024) bf16", [&] { return dynamic_slice_update(cache, upd, start, {0, 1, 2}); },
       8.0 * 4096 * 1024 * 4, 0},
      {"dynamic_slice (8, 512, 1024) bf16", [&] { return dynamic_slice(cache, start, {0, 1, 2}, {8, 512, 1024}); },
       8.0 * 512 * 1024 * 4, 0},
      {"complex64 multiply (4096^2)", [&] { return multiply(c1, c1); }, 4096.0 * 4096 * 24, 0},
      {"addmm bf16 4096^3 + bias row", [&] { return addmm(bias, x16, transpose(w16)); }, 0, 2.0 * 4096 * 4096 * 4096},
      {"matmul f64 2048^3 (DGEMM)", [&] { return matmul(a64, a64); }, 0, 2.0 * 2048 * 2048 * 2048},
      {"matmul complex64 2048^3 (CGEMM)", [&] { return matmul(cm, cm); }, 0, 8.0 * 2048 * 2048 * 2048},
  };
  std::printf("[gpu ops more] %-44s %10s %12s\n", "op", "ms", "GB/s|TFLOP/s");
  for (auto& r : rows) {
    double ms = time_ms(r.f);
    if (r.flops > 0) std::printf("[gpu ops more] %-44s %10.3f %9.1f TF\n", r.name, ms, r.flops / (ms * 1e9));
    else std::printf("[gpu ops more] %-44s %10.3f %9.1f GB/s\n", r.name, ms, r.bytes / (ms * 1e6));
  }
}

// Elementwise ops on column slices of a wider matrix (the halves of a stacked gate/up product) read
// the rows in place: sigmoid and multiply give the CPU's values for aligned and unaligned widths,
// in bf16 and float32, and leave the rest of the matrix alone.
TEST_F(GpuOpsMore, ElementwiseOnColumnSlices) {
  for (Dtype d : {bfloat16, float32}) {
    for (int cols : {64, 37}) {
      array m = astype(random::normal({3, 5, 2 * cols}, float32, 0, 1, random::key(cols), Device::cpu), d,
                       Device::cpu);  // (3, 5, 2c)
      eval(m);
      auto run = [&](StreamOrDevice s) {
        auto halves = split(m, 2, -1, s);
        array g = halves[0], u = halves[1];  // (3, 5, c) each, rows 2c apart
        return concatenate({sigmoid(g, s), multiply(g, u, s), exp(u, s)}, -1, s);
      };
      array a = run(Device::gpu), b = run(Device::cpu);
      eval({a, b});
      auto av = astype(a, float32).to_vector<float>(), bv = astype(b, float32).to_vector<float>();
      ASSERT_EQ(av.size(), bv.size());
      const float tol = d == bfloat16 ? 2e-2f : 1e-5f;
      for (size_t i = 0; i < av.size(); ++i) ASSERT_NEAR(av[i], bv[i], tol * (1 + std::fabs(bv[i]))) << i;
    }
  }
}
