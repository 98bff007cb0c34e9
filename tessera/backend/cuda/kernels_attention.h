// Launchers of the fast attention kernels (C++17, plain pointers): a FlashAttention-2 style
// tensor-core prefill kernel and a split-K (flash-decoding) kernel for few query rows. Both take
// the SdpaArgs of kernels.h; the generic sdpa() there is the fallback for what they don't support.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "tessera/backend/cuda/kernels.h"

namespace tessera::cuda {

// sdpa_flash.cu: f16/bf16, D == Dv in {64, 128}, q/k/v rows 16-byte aligned (pointers and the
// strides of dims 0..2 multiples of 8 elements). `variant` picks one of kFlashVariants tilings (see
// sdpa_flash.cu; names below); -1 takes sdpa_flash_default_variant(): the environment variable
// TESSERA_SDPA_FLASH_VARIANT (an index, read once) or kFlashDefaultVariant. A variant whose shared
// memory exceeds the device's per-block limit falls back to variant 0.
constexpr int kFlashVariants = 6;
constexpr int kFlashDefaultVariant = 5;  // fastest on the H200 (2026-11-26): 288 TFLOP/s causal, 312 full
constexpr const char* kFlashVariantNames[kFlashVariants] = {
    "4w x 16 rows, 64 keys, 2 stages, Q regs",
    "4w x 32 rows, 64 keys, 2 stages, Q smem",
    "8w x 16 rows, 64 keys, 2 stages, Q regs",
    "8w x 16 rows, 64 keys, 3 stages, Q regs",
    "4w x 16 rows, 32 keys, 2 stages, Q regs, 3 blocks/SM",
    "4w x 32 rows, 32 keys, 2 stages, Q smem"};
int sdpa_flash_default_variant();
bool sdpa_flash_supported(int dt, const SdpaArgs& a);
void sdpa_flash(int dt, const SdpaArgs& a, cudaStream_t st, int variant = -1);

// sdpa_decode.cu: Lq <= kDecodeMaxLq, f32/f16/bf16, D == Dv in {64, 128}, k/v rows 16-byte aligned,
// Lk > 0. The keys are split into chunks (one block each, per kv head and group of query rows);
// partial (max, sum, acc) go to a float scratch of sdpa_decode_scratch_bytes(a) bytes, then a
// second kernel merges them. Needs the device's SM count (cached by device ordinal). `prefetch`
// (1/0) loads the next key step's K/V before scoring the current one; -1 takes
// sdpa_decode_prefetch_default(): on unless the environment variable TESSERA_SDPA_DECODE_PREFETCH is 0.
constexpr int kDecodeMaxLq = 8;
bool sdpa_decode_prefetch_default();
bool sdpa_decode_supported(int dt, const SdpaArgs& a);
size_t sdpa_decode_scratch_bytes(int dt, const SdpaArgs& a);
void sdpa_decode(int dt, const SdpaArgs& a, void* scratch, cudaStream_t st, int prefetch = -1);

}  // namespace tessera::cuda
