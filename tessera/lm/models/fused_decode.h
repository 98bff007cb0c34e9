// Fused GPU kernels of Llama's static decode step (forward_at on the GPU): residual add + RMSNorm, and
// the gated activation read straight from a stacked [gate | up] product. Inference only (no vjp).
#pragma once

#include <utility>

#include "tessera/array.h"

namespace tessera::lm {

// Whether the fused kernels serve the default device: a GPU with run-time compilation (NVRTC).
// TESSERA_FUSED_DECODE=0 turns them off (the decode step then runs the element-wise ops).
bool fused_decode_available();

// x, a: (..., H) of one float dtype; w: (H,) of any float dtype. Returns {h, n} with h = x + a (rounded
// to x's dtype) and n = h / sqrt(mean(h^2) + eps) * w, as fast::rms_norm(x + a, w, eps): one kernel.
std::pair<array, array> add_rms_norm(const array& x, const array& a, const array& w, float eps);

// gu: (..., 2 I) holding [gate | up] along the last axis -> act(gate) * up (..., I), one kernel.
// act: 0 silu, 1 gelu (erf), 2 gelu (tanh approximation).
array gated_activation_stacked(const array& gu, int act);

}  // namespace tessera::lm
