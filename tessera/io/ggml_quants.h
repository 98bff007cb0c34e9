// Block (de)quantization for the GGML block types (Q4_0 ... Q8_K, IQ4_NL, IQ4_XS), multithreaded.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tessera/half_types.h"
#include "tessera/io/ggml_types.h"

namespace tessera::io {

// dst[0, n) = values of the n / block_size blocks at src. n must be a multiple of the block size.
void dequantize_blocks(GGMLType t, const uint8_t* src, size_t n, float* dst);
void dequantize_blocks(GGMLType t, const uint8_t* src, size_t n, float16_t* dst);
void dequantize_blocks(GGMLType t, const uint8_t* src, size_t n, bfloat16_t* dst);

// Writes n / block_size blocks of type t for src[0, n) to dst. A direct per-block quantizer (range
// or absmax scales, nearest levels), not llama.cpp's error-minimizing search; the bytes follow the
// ggml block layouts exactly.
void quantize_blocks(GGMLType t, const float* src, size_t n, uint8_t* dst);

}  // namespace tessera::io
