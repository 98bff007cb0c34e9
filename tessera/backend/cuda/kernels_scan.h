// Launchers of the CUDA scan kernels (scan.cu): cumsum/cumprod/cummax/cummin along the middle
// axis of a contiguous (outer, n, inner) array, inclusive or exclusive, forward or reverse.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

namespace tessera::cuda {

enum ScanOp : int { scan_sum, scan_prod, scan_max, scan_min };  // Scan::ReduceType order
// int32/uint32/int64/uint64/f16/bf16/f32/f64; 16-bit floats accumulate in float.
bool scan_supported(int op, int dt);
void scan(int op, int dt, const void* in, void* out, size_t outer, size_t n, size_t inner, bool reverse,
          bool inclusive, cudaStream_t st);

}  // namespace tessera::cuda
