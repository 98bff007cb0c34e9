// Usage: quant_bench [reps=21] [M=1] [shapes=2] | quant_bench isa [reps=15]. GEMV/GEMM benchmark of quantized
// weights: f32/f16 matmul vs affine int8/int4 and GGUF Q4_0/Q8_0; `isa`: GEMV GB/s per CPU ISA path and thread count.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "tessera/backend/cpu/cpu_isa.h"
#include "tessera/backend/cpu/threading.h"
#include "tessera/tessera.h"

using namespace tessera;

namespace {

// CPU seconds of the whole process (all threads): steadier than wall time on a loaded machine.
double cpu_now() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

bool g_cpu_time = false;  // TESSERA_BENCH_CPU=1: report CPU time instead of wall time

double median_seconds(const std::function<void()>& f, int reps) {
  f();  // warmup
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    double c0 = cpu_now();
    f();
    t.push_back(g_cpu_time ? cpu_now() - c0
                           : std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

array rand_f32(int rows, int cols, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> d(0.f, 0.02f);
  std::vector<float> v(static_cast<size_t>(rows) * cols);
  for (auto& x : v) x = d(gen);
  array a(v, {rows, cols});
  eval(a);
  return a;
}

// Q4_0 / Q8_0 blocks of a float matrix (simple absmax quantizer; only the bytes matter here).
array make_blocks(const array& w, GGUFType t) {
  int N = w.shape(0), K = w.shape(1);
  int bb = gguf_block_bytes(t);
  std::vector<uint8_t> raw(static_cast<size_t>(N) * (K / 32) * bb, 0);
  const float* p = w.data<float>();
  for (size_t b = 0; b < raw.size() / bb; ++b) {
    const float* x = p + b * 32;
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::abs(x[j]));
    float d = amax / (t == GGUFType::Q8_0 ? 127.f : 8.f);
    float16_t h(d);
    std::memcpy(&raw[b * bb], &h.bits, 2);
    float id = d ? 1 / d : 0;
    for (int j = 0; j < 32; ++j) {
      if (t == GGUFType::Q8_0) {
        raw[b * bb + 2 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::lround(x[j] * id)));
      } else {
        int q = std::clamp(static_cast<int>(std::lround(x[j] * id)) + 8, 0, 15);
        raw[b * bb + 2 + j % 16] |= static_cast<uint8_t>(q << (j < 16 ? 0 : 4));
      }
    }
  }
  array a(raw, {N, static_cast<int>(raw.size() / N)}, uint8);
  eval(a);
  return a;
}

void row(const char* name, double sec, double bytes, double base) {
  std::printf("  %-18s %9.3f ms %8.1f GB/s  x%.2f vs f32\n", name, sec * 1e3, bytes / sec * 1e-9, base / sec);
}

double min_seconds(const std::function<void()>& f, int reps) {
  f();  // warmup
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

// Random GGUF blocks with small finite f16 scales (only the bytes' size matters for timing).
array random_blocks(GGUFType t, int N, int K) {
  int bb = gguf_block_bytes(t), nb = K / gguf_block_size(t);
  std::vector<uint8_t> raw(static_cast<size_t>(N) * nb * bb);
  std::mt19937 gen(3);
  for (auto& b : raw) b = static_cast<uint8_t>(gen());
  uint16_t h = float16_t(0.01f).bits;
  for (size_t i = 0; i < raw.size() / bb; ++i) {
    uint8_t* b = raw.data() + i * bb;
    std::memcpy(t == GGUFType::Q6_K ? b + 208 : b, &h, 2);
    if (t == GGUFType::Q4_K) std::memcpy(b + 2, &h, 2);
  }
  array a(raw, {N, nb * bb}, uint8);
  eval(a);
  return a;
}

// GEMV (M = 1) weight GB/s of each quantized format on every ISA path this CPU has, at 1 and 2 threads;
// minimum over reps (the machine may be shared).
int isa_bench(int reps) {
  struct Shape2 {
    const char* name;
    int N, K;
  };
  const Shape2 shapes[] = {{"smol up 1536x576", 1536, 576},   {"smol down 576x1536", 576, 1536},
                           {"smol head 49152x576", 49152, 576}, {"7b qkvo 4096x4096", 4096, 4096},
                           {"7b up 11008x4096", 11008, 4096}, {"7b down 4096x11008", 4096, 11008}};
  std::printf("detected ISA: %s; GEMV M=1, min of %d, GB/s of weight bytes\n",
              cpu::cpu_isa_name(cpu::detected_cpu_isa()), reps);
  std::printf("%-22s %-10s %-7s %3s %9s %8s\n", "shape", "format", "isa", "thr", "ms", "GB/s");
  for (const auto& sh : shapes) {
    auto x = rand_f32(1, sh.K, 2);
    auto w = rand_f32(sh.N, sh.K, 1);
    auto q4 = quantize(w, 64, 4), q8 = quantize(w, 64, 8);
    eval(q4[0], q4[1], q4[2], q8[0], q8[1], q8[2]);
    double nk = static_cast<double>(sh.N) * sh.K;
    struct Case {
      std::string name;
      double bytes;
      std::function<array()> f;
      bool int8_affine;
    };
    std::vector<Case> cases;
    for (auto t : {GGUFType::Q4_0, GGUFType::Q8_0, GGUFType::Q4_K, GGUFType::Q6_K}) {
      if (sh.K % gguf_block_size(t)) continue;
      auto b = random_blocks(t, sh.N, sh.K);
      double bytes = static_cast<double>(b.nbytes());
      int K = sh.K;
      cases.push_back({gguf_type_name(t), bytes, [x, b, t, K] { return gguf_quantized_matmul(x, b, t, K); }, false});
    }
    for (int bits : {4, 8}) {
      auto& q = bits == 4 ? q4 : q8;
      double bytes = nk * bits / 8 + nk / 64 * 8;
      auto f = [x, q, bits] { return quantized_matmul(x, q[0], q[1], q[2], true, 64, bits); };
      cases.push_back({"aff" + std::to_string(bits) + "-f32", bytes, f, false});
      cases.push_back({"aff" + std::to_string(bits) + "-i8", bytes, f, true});
    }
    for (const auto& c : cases) {
      for (int isa = 0; isa <= static_cast<int>(cpu::detected_cpu_isa()); ++isa) {
        if (c.int8_affine && isa == 0) continue;  // the scalar path has no int8 kernels
        const char* iname = cpu::cpu_isa_name(static_cast<cpu::CpuIsa>(isa));
        setenv("TESSERA_CPU_ISA", iname, 1);
        setenv("TESSERA_CPU_AFFINE_INT8", c.int8_affine ? "1" : "0", 1);
        for (int thr : {1, 2}) {
          cpu::set_pool_size(thr);
          double s = min_seconds([&] { eval(c.f()); }, reps);
          std::printf("%-22s %-10s %-7s %3d %9.3f %8.2f\n", sh.name, c.name.c_str(), iname, thr, s * 1e3,
                      c.bytes / s * 1e-9);
        }
      }
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "isa") == 0) return isa_bench(argc > 2 ? std::atoi(argv[2]) : 15);
  int reps = argc > 1 ? std::atoi(argv[1]) : 21;
  int M = argc > 2 ? std::atoi(argv[2]) : 1;
  g_cpu_time = std::getenv("TESSERA_BENCH_CPU") != nullptr;
  std::printf("timing: %s\n", g_cpu_time ? "process CPU time (all threads)" : "wall time");
  int shapes = argc > 3 ? std::atoi(argv[3]) : 2;
  for (auto [N, K] : {std::pair{4096, 4096}, std::pair{11008, 4096}}) {
    if (shapes-- <= 0) break;
    auto w = rand_f32(N, K, 1);
    auto x = rand_f32(M, K, 2);
    auto wt = transpose(w);  // x @ w^T through tessera matmul (BLAS reads the transposed view)
    auto w16 = astype(w, float16);
    auto x16 = astype(x, float16);
    eval(wt, w16, x16);
    auto q8 = quantize(w, 64, 8), q4 = quantize(w, 64, 4);
    eval(q8[0], q8[1], q8[2], q4[0], q4[1], q4[2]);
    auto b40 = make_blocks(w, GGUFType::Q4_0), b80 = make_blocks(w, GGUFType::Q8_0);
    double f32 = median_seconds([&] { eval(matmul(x, wt)); }, reps);
    double f16 = median_seconds([&] { eval(matmul(x16, transpose(w16))); }, reps);
    double i8 = median_seconds([&] { eval(quantized_matmul(x, q8[0], q8[1], q8[2], true, 64, 8)); }, reps);
    double i4 = median_seconds([&] { eval(quantized_matmul(x, q4[0], q4[1], q4[2], true, 64, 4)); }, reps);
    auto s16 = astype(q4[1], float16), b16 = astype(q4[2], float16);
    eval(s16, b16);
    double i4h = median_seconds([&] { eval(quantized_matmul(x16, q4[0], s16, b16, true, 64, 4)); }, reps);
    double g40 = median_seconds([&] { eval(gguf_quantized_matmul(x, b40, GGUFType::Q4_0, K)); }, reps);
    double g80 = median_seconds([&] { eval(gguf_quantized_matmul(x, b80, GGUFType::Q8_0, K)); }, reps);
    double nk = static_cast<double>(N) * K;
    double sb8 = nk / 64 * 2 * 4, sb4 = sb8;  // f32 scales + biases (f16 ones: half)
    std::printf("%d x %d x %d (M x N x K), median of %d, weight bytes per second\n", M, N, K, reps);
    row("f32 matmul", f32, nk * 4, f32);
    row("f16 matmul", f16, nk * 2, f32);
    row("int8 g64 (affine)", i8, nk + sb8, f32);
    row("int4 g64 (affine)", i4, nk / 2 + sb4, f32);
    row("int4 g64 f16 x/s", i4h, nk / 2 + sb4 / 2, f32);
    row("Q4_0", g40, nk / 32 * 18, f32);
    row("Q8_0", g80, nk / 32 * 34, f32);
    std::printf("  int4 speedup: %.2fx vs f32, %.2fx vs f16\n", f32 / i4, f16 / i4);
  }
  return 0;
}
