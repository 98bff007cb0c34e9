// Launchers of reduce.cu beyond kernels.h's: reductions whose output dtype may differ from the input's
// (sums/products of bool and 8/16-bit integers give int32/uint32, the op's output dtype) and all/any
// (and/or over bool). kernels.h's reduce()/reduce_supported() are the same-dtype case of these.
#pragma once

#include "tessera/backend/cuda/kernels.h"

namespace tessera::cuda {

// ReduceOp codes after kernels.h's r_prod.
enum ReduceOpX : int { r_and = r_prod + 1, r_or };

// Whether reduce_out runs `op` from dtype dt into out_dt: every real dtype (sum/prod of bool/int8/
// int16 into int32, of uint8/uint16 into uint32; mean of floats only; and/or of bool), complex64
// sum/prod/mean.
bool reduce_out_supported(int op, int dt, int out_dt);
// Contiguous input viewed as (outer, len, inner); out (outer, inner) of out_dt.
void reduce_out(int op, int dt, int out_dt, const void* in, void* out, size_t outer, size_t len, size_t inner,
                cudaStream_t st);

}  // namespace tessera::cuda
