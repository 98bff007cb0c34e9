// CUDA source of a fused elementwise chain (compile's Compiled primitive on the GPU): one thread
// per output element loads the inputs, runs the chain in float and stores once.
#pragma once

#include <string>
#include <vector>

#include "tessera/compile/compiled.h"
#include "tessera/dtype.h"

namespace tessera::cuda {

// How the kernel reads an input: at the element's index (dense), one value (scalar), or through
// strides over the collapsed output shape (strided).
enum class FusedAccess : char { dense = 'd', scalar = 's', strided = 'x' };

// The extern "C" kernel `tessera_fused`, parameters (long long n, const T* in0, [tessera_dims<long
// long> st0 for strided inputs], ..., T* out, [tessera_dims<long long> shape when any input is
// strided]) where T is float, or unsigned short holding float16/bfloat16 bits. ndim: dims of the
// collapsed shape (<= 8). dtype: float32, float16 or bfloat16.
std::string fused_kernel_source(Dtype dtype, const std::vector<detail::FusedInstr>& instrs,
                                const std::vector<FusedAccess>& access, int ndim);

}  // namespace tessera::cuda
