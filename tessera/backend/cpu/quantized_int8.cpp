// Int8-activation quantized GEMV kernels: activation quantization and per-ISA instantiation (AVX2, AVX-512 VNNI).
#include "tessera/backend/cpu/quantized_int8.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "tessera/backend/cpu/quantized_common.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define TESSERA_Q8_KERNELS 1
#include <immintrin.h>
#endif

namespace tessera::cpu::quant {

Q8Act quantize_act(const float* x, int64_t M, int64_t K, bool pairs) {
  int64_t nb = K / 32;
  Q8Act a;
  a.K = K;
  a.q.resize(M * K);
  a.d.resize(M * nb);
  a.s.resize(M * nb);
  a.isum.resize(M * nb);
  for (int64_t r = 0; r < M * nb; ++r) {
    const float* xb = x + r * 32;
    float amax = 0, sum = 0;
    for (int j = 0; j < 32; ++j) {
      amax = std::max(amax, std::fabs(xb[j]));
      sum += xb[j];
    }
    float d = amax / 127.0f, id = d > 0 ? 1.0f / d : 0.0f;
    int32_t isum = 0;
    int8_t* q = a.q.data() + r * 32;
    for (int j = 0; j < 32; ++j) {
      auto v = static_cast<int8_t>(std::nearbyint(xb[j] * id));
      q[pairs ? (j % 2) * 16 + j / 2 : j] = v;
      isum += v;
    }
    a.d[r] = d;
    a.s[r] = sum;
    a.isum[r] = isum;
  }
  return a;
}

#if TESSERA_Q8_KERNELS
namespace avx2 {
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#include "tessera/backend/cpu/quantized_int8_kernels.inc"
#pragma GCC pop_options
}  // namespace avx2

namespace avx512 {
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")
#define TESSERA_Q8_VNNI 1
#include "tessera/backend/cpu/quantized_int8_kernels.inc"
#undef TESSERA_Q8_VNNI
#pragma GCC pop_options
}  // namespace avx512
#endif

bool int8_gguf_supported(CpuIsa isa, GGUFType t) {
#if TESSERA_Q8_KERNELS
  return isa != CpuIsa::scalar && (t == GGUFType::Q4_0 || t == GGUFType::Q8_0 || t == GGUFType::Q4_K ||
                                   t == GGUFType::Q6_K);
#else
  return false;
#endif
}

bool int8_affine_supported(CpuIsa isa, int bits, int group_size) {
#if TESSERA_Q8_KERNELS
  return isa != CpuIsa::scalar && (bits == 4 || bits == 8) && group_size % 32 == 0;
#else
  return false;
#endif
}

bool affine_int8_requested() {
  const char* v = std::getenv("TESSERA_CPU_AFFINE_INT8");
  return v != nullptr && std::strcmp(v, "1") == 0;
}

void int8_gguf_rows(CpuIsa isa, GGUFType t, const uint8_t* w, const Q8Act& x, int64_t m0, int mr, int64_t n0,
                    int64_t n1, float* out, int64_t ldo) {
  if (!int8_gguf_supported(isa, t) || isa > detected_cpu_isa()) {
    throw std::invalid_argument("[quantized] no int8 kernel for this type/ISA on this CPU.");
  }
#if TESSERA_Q8_KERNELS
  Q8View v = view_rows(x, m0);
  if (isa == CpuIsa::avx512) {
    avx512::gguf_rows(t, w, v, mr, n0, n1, out, ldo);
  } else {
    avx2::gguf_rows(t, w, v, mr, n0, n1, out, ldo);
  }
#endif
}

void int8_affine_rows(CpuIsa isa, int bits, int gs, const uint8_t* w, RowScales row_sb, const void* ctx,
                      const Q8Act& x, int64_t m0, int mr, int64_t n0, int64_t n1, float* out, int64_t ldo) {
  if (!int8_affine_supported(isa, bits, gs) || isa > detected_cpu_isa()) {
    throw std::invalid_argument("[quantized] no int8 kernel for these bits/ISA on this CPU.");
  }
#if TESSERA_Q8_KERNELS
  Q8View v = view_rows(x, m0);
  std::vector<float> sc(x.K / gs), bi(x.K / gs);
  if (isa == CpuIsa::avx512) {
    avx512::affine_rows(bits, gs, w, row_sb, ctx, v, mr, n0, n1, sc.data(), bi.data(), out, ldo);
  } else {
    avx2::affine_rows(bits, gs, w, row_sb, ctx, v, mr, n0, n1, sc.data(), bi.data(), out, ldo);
  }
#endif
}

}  // namespace tessera::cpu::quant
