// Runtime choice of the CPU instruction-set path for the quantized kernels (cpuid + TESSERA_CPU_ISA).
#pragma once

namespace tessera::cpu {

// Kernel paths, lowest to highest. scalar: generic float code (weights decoded to f32, no int8
// activations). avx2: int8 activations with AVX2 maddubs. avx512: the same with AVX-512 VNNI vpdpbusd.
enum class CpuIsa { scalar = 0, avx2 = 1, avx512 = 2 };

// The best path this CPU supports (and this build compiled), from cpuid.
CpuIsa detected_cpu_isa();
// The path kernels use now: detected_cpu_isa(), lowered (never raised) by the environment variable
// TESSERA_CPU_ISA=scalar|avx2|avx512, read on every call so tests can switch paths. An unknown
// value throws std::invalid_argument.
CpuIsa cpu_isa();
const char* cpu_isa_name(CpuIsa isa);

}  // namespace tessera::cpu
