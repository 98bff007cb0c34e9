// f32 GEMM 2048^3: tessera::matmul (graph + eval) vs cblas_sgemm directly on the same data.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "tessera/tessera.h"

using namespace tessera;

namespace {

template <typename F>
double median_seconds(F&& f, int reps) {
  f();  // warmup
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 2048;
  std::mt19937 gen(0);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> av(static_cast<size_t>(n) * n), bv(av.size());
  for (auto& x : av) x = dist(gen);
  for (auto& x : bv) x = dist(gen);
  array a(av, {n, n}), b(bv, {n, n});
  eval(a, b);

  double t_tessera = median_seconds([&] {
    auto c = matmul(a, b);
    eval(c);
  }, 5);
  std::vector<float> cv(av.size());
  double t_blas = median_seconds([&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data<float>(), n, b.data<float>(), n,
                0.0f, cv.data(), n);
  }, 5);

  // Sanity: both give the same product.
  auto c = matmul(a, b);
  eval(c);
  double maxdiff = 0;
  for (size_t i = 0; i < cv.size(); ++i) maxdiff = std::max<double>(maxdiff, std::abs(c.data<float>()[i] - cv[i]));

  double flops = 2.0 * n * n * n;
  double g_t = flops / t_tessera * 1e-9, g_b = flops / t_blas * 1e-9;
  std::printf("sgemm %dx%dx%d (median of 5)\n", n, n, n);
  std::printf("tessera::matmul  %8.3f ms  %8.1f GFLOP/s\n", t_tessera * 1e3, g_t);
  std::printf("cblas_sgemm      %8.3f ms  %8.1f GFLOP/s\n", t_blas * 1e3, g_b);
  std::printf("ratio tessera/blas = %.3f (goal >= 0.95), max |diff| = %g\n", g_t / g_b, maxdiff);
  return 0;
}
