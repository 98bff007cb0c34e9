// Fused "fast" ops (MLX's mlx.core.fast): rms_norm, layer_norm, rope, scaled_dot_product_attention.
#pragma once

#include <optional>
#include <string>

#include "tessera/array.h"
#include "tessera/device.h"

namespace tessera::fast {

// x: (..., D); weight: (D,) or none. x * rsqrt(mean(x^2, -1) + eps) * weight, computed in float,
// result in x's dtype.
array rms_norm(const array& x, const std::optional<array>& weight, float eps, StreamOrDevice s = {});

// x: (..., D); weight, bias: (D,) or none. (x - mean) * rsqrt(var + eps) * weight + bias over the
// last axis, computed in float, result in x's dtype.
array layer_norm(const array& x, const std::optional<array>& weight, const std::optional<array>& bias, float eps,
                 StreamOrDevice s = {});

// Rotary position embedding. x: (..., L, D). Rotates the first `dims` features of the row at
// position offset + l by theta_i = (offset + l) * scale * base^(-2i/dims) (or / freqs[i] when
// `freqs` (dims/2,) is given instead of `base`). traditional: pairs (x[2i], x[2i+1]); otherwise
// halves (x[i], x[i + dims/2]). Features past `dims` are copied.
array rope(const array& x, int dims, bool traditional, std::optional<float> base, float scale, int offset,
           const std::optional<array>& freqs = std::nullopt, StreamOrDevice s = {});
// offset: an integer scalar, or (B,) per-batch offsets with B = x.shape(0).
array rope(const array& x, int dims, bool traditional, std::optional<float> base, float scale, const array& offset,
           const std::optional<array>& freqs = std::nullopt, StreamOrDevice s = {});

// softmax(q k^T * scale + mask) v. q: (B, Hq, Lq, D), k: (B, Hkv, Lk, D), v: (B, Hkv, Lk, Dv) with
// Hq a multiple of Hkv (grouped-query attention). mask_mode: "" (no mask or `mask` given) or
// "causal" (query i sees keys j <= i + Lk - Lq). mask: boolean (true = keep) or additive,
// broadcastable to (B, Hq, Lq, Lk). Result (B, Hq, Lq, Dv) in the promoted dtype of q, k, v (computed
// in float32; a row that sees no key is NaN, like a softmax over all -inf).
array scaled_dot_product_attention(const array& queries, const array& keys, const array& values, float scale,
                                   const std::string& mask_mode = "",
                                   const std::optional<array>& mask = std::nullopt, StreamOrDevice s = {});
array scaled_dot_product_attention(const array& queries, const array& keys, const array& values, float scale,
                                   const array& mask, StreamOrDevice s = {});

}  // namespace tessera::fast
