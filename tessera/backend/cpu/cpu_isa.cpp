// Runtime CPU instruction-set detection for the quantized kernels, with the TESSERA_CPU_ISA override.
#include "tessera/backend/cpu/cpu_isa.h"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace tessera::cpu {

CpuIsa detected_cpu_isa() {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  static const CpuIsa isa = [] {
    __builtin_cpu_init();
    bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                  __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
    return avx512 ? CpuIsa::avx512 : avx2 ? CpuIsa::avx2 : CpuIsa::scalar;
  }();
  return isa;
#else
  return CpuIsa::scalar;
#endif
}

CpuIsa cpu_isa() {
  CpuIsa best = detected_cpu_isa();
  const char* env = std::getenv("TESSERA_CPU_ISA");
  if (env == nullptr || *env == '\0') return best;
  std::string s(env);
  CpuIsa want;
  if (s == "scalar") {
    want = CpuIsa::scalar;
  } else if (s == "avx2") {
    want = CpuIsa::avx2;
  } else if (s == "avx512") {
    want = CpuIsa::avx512;
  } else {
    throw std::invalid_argument("[cpu] TESSERA_CPU_ISA must be scalar, avx2 or avx512, got '" + s + "'.");
  }
  return std::min(want, best);
}

const char* cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::avx512:
      return "avx512";
    case CpuIsa::avx2:
      return "avx2";
    default:
      return "scalar";
  }
}

}  // namespace tessera::cpu
