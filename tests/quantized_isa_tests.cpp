// Tests of the runtime-dispatched CPU quantized kernels: every ISA path the CPU has (scalar, AVX2,
// AVX-512 VNNI) against the f32 dequantize-then-matmul reference, paths against each other, threads.
#include <cstdlib>
#include <cstring>
#include <random>

#include "quantized_test_utils.h"
#include "tessera/backend/cpu/cpu_isa.h"
#include "tessera/backend/cpu/quantized_int8.h"
#include "tessera/backend/cpu/threading.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::testing;
using cpu::CpuIsa;

namespace {

// Sets an environment variable for the scope, restoring the previous value.
struct EnvScope {
  std::string name, old;
  bool had;
  EnvScope(const char* n, const char* v) : name(n) {
    const char* o = std::getenv(n);
    had = o != nullptr;
    if (had) old = o;
    setenv(n, v, 1);
  }
  ~EnvScope() {
    if (had) {
      setenv(name.c_str(), old.c_str(), 1);
    } else {
      unsetenv(name.c_str());
    }
  }
};
// Forces a CPU ISA path and runs on the CPU (the suite also runs with the GPU as default device,
// where these ops would take the GPU kernels and every path would agree).
struct IsaScope : EnvScope {
  Device saved = default_device();
  explicit IsaScope(const char* v) : EnvScope("TESSERA_CPU_ISA", v) { set_default_device(Device::cpu); }
  ~IsaScope() { set_default_device(saved); }
};

// Every path this CPU can run, lowest first.
std::vector<CpuIsa> paths() {
  std::vector<CpuIsa> v;
  for (int i = 0; i <= static_cast<int>(cpu::detected_cpu_isa()); ++i) v.push_back(static_cast<CpuIsa>(i));
  return v;
}

// Random GGUF blocks (N rows of K values): random bytes, with each f16 scale field set to a small
// positive value so every value is finite. Any bytes are valid codes for these types.
array random_gguf(GGUFType t, int N, int K, unsigned seed) {
  int bb = gguf_block_bytes(t), nb = K / gguf_block_size(t);
  std::vector<uint8_t> bytes(static_cast<size_t>(N) * nb * bb);
  std::mt19937 rng(seed);
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  std::uniform_real_distribution<float> u(0.002f, 0.03f);
  auto put = [&](uint8_t* p) {
    uint16_t h = float16_t(u(rng)).bits;
    std::memcpy(p, &h, 2);
  };
  for (size_t i = 0; i < bytes.size() / bb; ++i) {
    uint8_t* b = bytes.data() + i * bb;
    if (t == GGUFType::Q6_K) {
      put(b + 208);
    } else {
      put(b);
      if (t == GGUFType::Q4_K) put(b + 2);
    }
  }
  return array(bytes, {N, nb * bb}, uint8);
}

// y (M, N) against x (M, K) @ w^T (w (N, K) float64) within the int8-activation bound.
void expect_within_int8_bound(array y, const std::vector<double>& xv, const std::vector<double>& wv, int M,
                              int K, int N, const std::string& what) {
  auto g = y.to_vector<double>();
  for (int m = 0; m < M; ++m) {
    for (int n = 0; n < N; ++n) {
      double want = 0, mag = 0;
      for (int k = 0; k < K; ++k) {
        want += xv[m * K + k] * wv[n * K + k];
        mag += std::fabs(xv[m * K + k] * wv[n * K + k]);
      }
      ASSERT_LE(std::fabs(g[m * N + n] - want), int8_act_bound(xv, wv, K, m, n, mag)) << what << " m " << m << " n " << n;
    }
  }
}

const GGUFType kTypes[] = {GGUFType::Q4_0, GGUFType::Q8_0, GGUFType::Q4_K, GGUFType::Q6_K};

}  // namespace

TEST(QuantizedIsaTest, ReportsPaths) {
  std::string names;
  for (auto p : paths()) names += std::string(" ") + cpu::cpu_isa_name(p);
  std::printf("[quantized isa] detected %s; testing paths:%s\n", cpu::cpu_isa_name(cpu::detected_cpu_isa()),
              names.c_str());
  for (auto p : paths()) {
    IsaScope s(cpu::cpu_isa_name(p));
    EXPECT_EQ(cpu::cpu_isa(), p);
  }
  // Asking for more than the CPU has gives what it has.
  IsaScope s("avx512");
  EXPECT_EQ(cpu::cpu_isa(), cpu::detected_cpu_isa());
}

TEST(QuantizedIsaTest, GGUFEveryPathMatchesDequantizedReference) {
  for (auto t : kTypes) {
    int bs = gguf_block_size(t);
    // K not a multiple of 256 where the format allows it; N odd and above the parallel grain.
    int K = bs == 32 ? 32 * 9 : 256 * 3, N = 37;
    auto blocks = random_gguf(t, N, K, 7 + static_cast<int>(t));
    auto wv = gguf_dequantize(blocks, t, {N, K}).to_vector<double>();
    for (auto p : paths()) {
      IsaScope s(cpu::cpu_isa_name(p));
      for (int M = 1; M <= 9; ++M) {
        auto x = random_array({M, K}, float32, -1, 1, 100 + M);
        auto y = gguf_quantized_matmul(x, blocks, t, K);
        ASSERT_EQ(y.shape(), (Shape{M, N}));
        expect_within_int8_bound(y, x.to_vector<double>(), wv, M, K, N,
                                 gguf_type_name(t) + " " + cpu::cpu_isa_name(p) + " M " + std::to_string(M));
      }
    }
  }
}

TEST(QuantizedIsaTest, AffineInt8EveryPathMatchesDequantizedReference) {
  EnvScope int8("TESSERA_CPU_AFFINE_INT8", "1");
  for (int bits : {4, 8}) {
    for (int gs : {32, 64, 128}) {
      int K = 3 * gs, N = 37;
      auto w = random_array({N, K}, float32, -1, 1, bits * 7 + gs);
      auto q = quantize(w, gs, bits);
      for (Dtype sdt : {float32, bfloat16}) {
        auto sc = astype(q[1], sdt), bi = astype(q[2], sdt);
        auto wv = dequantize(q[0], sc, bi, gs, bits).to_vector<double>();
        for (auto p : paths()) {
          IsaScope s(cpu::cpu_isa_name(p));
          for (int M = 1; M <= 9; ++M) {
            auto x = random_array({M, K}, float32, -1, 1, 200 + M);
            auto y = quantized_matmul(x, q[0], sc, bi, true, gs, bits);
            expect_within_int8_bound(y, x.to_vector<double>(), wv, M, K, N,
                                     "bits " + std::to_string(bits) + " gs " + std::to_string(gs) + " " +
                                         cpu::cpu_isa_name(p) + " M " + std::to_string(M));
          }
        }
      }
    }
  }
}

// AVX2 maddubs and AVX-512 vpdpbusd give the same integer block sums, and the float work after them
// is the same, so the two int8 paths agree bit for bit; the scalar path differs (float activations).
TEST(QuantizedIsaTest, Int8PathsAgreeExactlyAndDifferFromScalar) {
  EnvScope int8("TESSERA_CPU_AFFINE_INT8", "1");
  const int K = 512, N = 45, M = 3;
  auto x = random_array({M, K}, float32, -1, 1, 5);
  std::vector<std::vector<float>> per_path;
  for (auto p : paths()) {
    IsaScope s(cpu::cpu_isa_name(p));
    std::vector<float> all;
    for (auto t : kTypes) {
      auto y = gguf_quantized_matmul(x, random_gguf(t, N, K, 3), t, K).to_vector<float>();
      all.insert(all.end(), y.begin(), y.end());
    }
    auto q = quantize(random_array({N, K}, float32, -1, 1, 9), 64, 4);
    auto y = quantized_matmul(x, q[0], q[1], q[2], true, 64, 4).to_vector<float>();
    all.insert(all.end(), y.begin(), y.end());
    per_path.push_back(all);
  }
  ASSERT_GE(per_path.size(), 2u) << "this CPU has no AVX2";
  EXPECT_NE(per_path[0], per_path[1]) << "scalar and int8 paths should round differently";
  if (per_path.size() == 3) {
    EXPECT_EQ(per_path[1], per_path[2]) << "avx2 and avx512 int8 paths should agree exactly";
  }
}

TEST(QuantizedIsaTest, GemvDeterministicAcrossThreadCounts) {
  EnvScope int8("TESSERA_CPU_AFFINE_INT8", "1");
  const int K = 1024, N = 301;
  auto x = random_array({1, K}, float32, -1, 1, 11);
  auto blocks = random_gguf(GGUFType::Q4_K, N, K, 12);
  auto q = quantize(random_array({N, K}, float32, -1, 1, 13), 64, 4);
  int old = cpu::pool_size();
  std::vector<std::vector<float>> runs;
  for (int threads : {1, 2, 4, 1}) {
    cpu::set_pool_size(threads);
    auto a = gguf_quantized_matmul(x, blocks, GGUFType::Q4_K, K).to_vector<float>();
    auto b = quantized_matmul(x, q[0], q[1], q[2], true, 64, 4).to_vector<float>();
    a.insert(a.end(), b.begin(), b.end());
    runs.push_back(a);
  }
  cpu::set_pool_size(old);
  for (size_t i = 1; i < runs.size(); ++i) EXPECT_EQ(runs[0], runs[i]) << "run " << i;
}

TEST(QuantizedIsaTest, Errors) {
  {
    IsaScope s("sse9");
    EXPECT_THROW(cpu::cpu_isa(), std::invalid_argument);
  }
  auto xq = cpu::quant::quantize_act(std::vector<float>(32, 1.0f).data(), 1, 32, false);
  std::vector<uint8_t> w(34, 0);
  float out = 0;
  EXPECT_THROW(cpu::quant::int8_gguf_rows(CpuIsa::scalar, GGUFType::Q8_0, w.data(), xq, 0, 1, 0, 1, &out, 1),
               std::invalid_argument);
  EXPECT_THROW(cpu::quant::int8_gguf_rows(CpuIsa::avx2, GGUFType::Q5_K, w.data(), xq, 0, 1, 0, 1, &out, 1),
               std::invalid_argument);
  if (cpu::detected_cpu_isa() < CpuIsa::avx512) {
    // A path above the CPU's is refused rather than run into an illegal instruction.
    EXPECT_THROW(cpu::quant::int8_gguf_rows(CpuIsa::avx512, GGUFType::Q8_0, w.data(), xq, 0, 1, 0, 1, &out, 1),
                 std::invalid_argument);
  }
}
