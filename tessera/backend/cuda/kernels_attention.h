// Launchers of the fast attention kernels (C++17, plain pointers): a FlashAttention-2 style
// tensor-core prefill kernel and a split-K (flash-decoding) kernel for few query rows. Both take
// the SdpaArgs of kernels.h; the generic sdpa() there is the fallback for what they don't support.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "tessera/backend/cuda/kernels.h"

namespace tessera::cuda {

// sdpa_flash.cu: f16/bf16, D == Dv in {64, 128}, q/k/v rows 16-byte aligned (pointers and the
// strides of dims 0..2 multiples of 8 elements). 4 warps of rows_per_warp (16 or 32, default 32;
// 16 where the device's shared memory per block is too small for 128-row tiles) query rows per
// block, 64-key tiles.
bool sdpa_flash_supported(int dt, const SdpaArgs& a);
void sdpa_flash(int dt, const SdpaArgs& a, cudaStream_t st, int rows_per_warp = 32);

// sdpa_decode.cu: Lq <= kDecodeMaxLq, f32/f16/bf16, D == Dv in {64, 128}, k/v rows 16-byte aligned,
// Lk > 0. The keys are split into chunks (one block each, per kv head and group of query rows);
// partial (max, sum, acc) go to a float scratch of sdpa_decode_scratch_bytes(a) bytes, then a
// second kernel merges them. Needs the device's SM count (cached by device ordinal).
constexpr int kDecodeMaxLq = 8;
bool sdpa_decode_supported(int dt, const SdpaArgs& a);
size_t sdpa_decode_scratch_bytes(int dt, const SdpaArgs& a);
void sdpa_decode(int dt, const SdpaArgs& a, void* scratch, cudaStream_t st);

}  // namespace tessera::cuda
