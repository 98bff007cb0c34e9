// Attention over a quantized KV cache: scores and outputs by quantized_matmul, never dequantizing the cache.
#pragma once

#include <optional>

#include "tessera/array.h"
#include "tessera/lm/kv_cache.h"

namespace tessera::lm {

// q (B, Hq, L, D) with Hq a multiple of the cache's heads; kv from KVCache::update_and_fetch_quantized
// (T positions); mask: none, (L, T) or (B, 1, L, T) bool, true = attend. softcap > 0: scores =
// softcap * tanh(scores / softcap). scores = q K^T * scale (+ mask), softmax in float32, out = p V.
// Returns (B, Hq, L, value_dim) in q's dtype.
array quantized_attention(const array& q, const KVCache::QuantizedKV& kv, float scale,
                          const std::optional<array>& mask, float softcap = 0);

}  // namespace tessera::lm
