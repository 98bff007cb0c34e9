// GPU kernel benchmark: bf16 GEMM (8192^3 and the 4096 x 11008 projection at M = 1, 2, 4, 8, 16,
// 512), elementwise add/exp/sigmoid (f32, bf16), rms_norm, softmax and log_softmax (bf16, 8192 x
// 4096) against a measured device-to-device copy; CUDA events, median of N batches. benchmarks/gpu_torch_ref.py prints the
// same table for PyTorch; benchmarks/run_gpu.sh runs both.
#include <cstdio>

#ifndef TESSERA_CUDA
int main() {
  std::printf("gpu_bench: tessera was built without CUDA.\n");
  return 0;
}
#else

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "tessera/tessera.h"

using namespace tessera;

namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "gpu_bench: %s failed: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

// Median seconds per repetition: `batch(reps)` queues reps repetitions and returns when the GPU is
// done; events on the legacy default stream bracket it (that stream waits for, and is waited for
// by, the tessera streams).
double median_seconds(const std::function<void(int)>& batch, int reps, int batches) {
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  batch(1);  // warm-up: allocator pools, cuBLAS plans, module loading
  check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  std::vector<double> t;
  for (int b = 0; b < batches; ++b) {
    check(cudaEventRecord(start, nullptr), "cudaEventRecord");
    batch(reps);
    check(cudaEventRecord(stop, nullptr), "cudaEventRecord");
    check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    t.push_back(ms * 1e-3 / reps);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// Times op(): each batch builds `reps` independent results first, then evaluates them in one eval
// (kernels back to back on the stream, one host wait).
double time_op(const std::function<array()>& op, int reps, int batches) {
  return median_seconds(
      [&](int n) {
        std::vector<array> outs;
        outs.reserve(n);
        for (int i = 0; i < n; ++i) outs.push_back(op());
        eval(outs);
      },
      reps, batches);
}

struct Row {
  std::string name;
  double us;
  double rate;
  const char* unit;
  double ratio;  // to the copy bandwidth; < 0: not bandwidth bound
};

void print_table(const std::vector<Row>& rows, double copy_gbs) {
  std::printf("\n| case | median us | rate | of copy bandwidth |\n|---|---|---|---|\n");
  std::printf("| device-to-device copy (read + write) | - | %.0f GB/s | 1.00 |\n", copy_gbs);
  for (auto& r : rows) {
    if (r.ratio >= 0) {
      std::printf("| %s | %.1f | %.1f %s | %.2f |\n", r.name.c_str(), r.us, r.rate, r.unit, r.ratio);
    } else {
      std::printf("| %s | %.1f | %.1f %s | - |\n", r.name.c_str(), r.us, r.rate, r.unit);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (!is_available(Device::gpu)) {
    std::printf("gpu_bench: no CUDA GPU visible.\n");
    return 1;
  }
  int batches = argc > 1 ? std::atoi(argv[1]) : 7;
  if (batches < 1) batches = 1;
  set_default_device(Device::gpu);
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  std::printf("tessera gpu_bench on %s (%d SMs, %.1f GiB), median of %d batches\n", prop.name,
              prop.multiProcessorCount, prop.totalGlobalMem / double(1 << 30), batches);

  // Copy bandwidth anchor: 512 MiB device-to-device copies.
  const size_t copy_bytes = size_t(512) << 20;
  void *src = nullptr, *dst = nullptr;
  check(cudaMalloc(&src, copy_bytes), "cudaMalloc");
  check(cudaMalloc(&dst, copy_bytes), "cudaMalloc");
  check(cudaMemset(src, 1, copy_bytes), "cudaMemset");
  double copy_s = median_seconds(
      [&](int n) {
        for (int i = 0; i < n; ++i) check(cudaMemcpyAsync(dst, src, copy_bytes, cudaMemcpyDeviceToDevice, nullptr), "copy");
      },
      10, batches);
  check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  cudaFree(src);
  cudaFree(dst);
  double copy_gbs = 2.0 * copy_bytes / copy_s / 1e9;

  std::vector<Row> rows;
  auto bandwidth_row = [&](const std::string& name, double bytes, double s) {
    double gbs = bytes / s / 1e9;
    rows.push_back({name, s * 1e6, gbs, "GB/s", gbs / copy_gbs});
  };

  // GEMM, bf16.
  {
    const int n = 8192;
    auto a = random::normal({n, n}, bfloat16);
    auto b = random::normal({n, n}, bfloat16);
    eval(a, b);
    double s = time_op([&] { return matmul(a, b); }, 5, batches);
    rows.push_back({"bf16 GEMM 8192^3", s * 1e6, 2.0 * n * n * n / s / 1e12, "TFLOP/s", -1});
  }
  {
    const int K = 4096, N = 11008;
    auto w = random::normal({N, K}, bfloat16);  // a Linear weight (out, in), used as x @ w.T
    eval(w);
    for (int M : {1, 2, 4, 8, 16, 512}) {
      auto x = random::normal({M, K}, bfloat16);
      eval(x);
      double s = time_op([&] { return matmul(x, transpose(w)); }, 20, batches);
      double bytes = 2.0 * (double(N) * K + double(M) * K + double(M) * N);
      std::string name = "bf16 x @ W.T, M=" + std::to_string(M) + " K=4096 N=11008";
      if (M <= 16) {
        bandwidth_row(name + " (weight-read bound)", bytes, s);
      } else {
        rows.push_back({name, s * 1e6, 2.0 * M * N * K / s / 1e12, "TFLOP/s", -1});
      }
    }
  }

  // Elementwise: 2^26 elements.
  const int n = 1 << 26;
  for (Dtype d : {float32, bfloat16}) {
    const char* dn = d == float32 ? "f32" : "bf16";
    auto a = random::normal({n}, d);
    auto b = random::normal({n}, d);
    eval(a, b);
    double s = time_op([&] { return add(a, b); }, 20, batches);
    bandwidth_row(std::string("add ") + dn + " 2^26", 3.0 * n * d.size, s);
    s = time_op([&] { return exp(a); }, 20, batches);
    bandwidth_row(std::string("exp ") + dn + " 2^26", 2.0 * n * d.size, s);
    s = time_op([&] { return sigmoid(a); }, 20, batches);
    bandwidth_row(std::string("sigmoid ") + dn + " 2^26", 2.0 * n * d.size, s);
  }

  // Rows, bf16 (8192, 4096).
  {
    const int R = 8192, D = 4096;
    auto x = random::normal({R, D}, bfloat16);
    auto w = random::normal({D}, bfloat16);
    eval(x, w);
    double s = time_op([&] { return fast::rms_norm(x, w, 1e-5f); }, 20, batches);
    bandwidth_row("rms_norm bf16 (8192, 4096)", 2.0 * R * D * 2 + D * 2, s);
    s = time_op([&] { return softmax(x, -1); }, 20, batches);
    bandwidth_row("softmax bf16 (8192, 4096)", 2.0 * R * D * 2, s);
    s = time_op([&] { return log_softmax(x, -1); }, 20, batches);
    bandwidth_row("log_softmax bf16 (8192, 4096)", 2.0 * R * D * 2, s);
  }

  print_table(rows, copy_gbs);
  return 0;
}

#endif
