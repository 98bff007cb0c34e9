// Fused "fast" ops (MLX's mlx.core.fast): rms_norm, layer_norm, rope, scaled_dot_product_attention,
// and cuda_kernel (custom CUDA kernels compiled at run time, like MLX's metal_kernel).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

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

// A template argument of a custom kernel: a dtype (`using NAME = type;` in the kernel) or an int /
// bool (`constexpr int NAME = v;`).
using TemplateArg = std::variant<int, bool, Dtype>;

// Runs a custom kernel: inputs in input_names order; outputs of output_shapes/output_dtypes (filled
// with init_value first when given). grid: threads per dimension (as in MLX, not blocks); the
// kernel runs ceil(grid / threadgroup) blocks of threadgroup threads, so the body checks bounds.
// verbose prints the generated source. Needs a GPU stream: a CPU one throws "[cuda_kernel] needs a GPU".
using CudaKernelFunction = std::function<std::vector<array>(
    const std::vector<array>& inputs, const std::vector<Shape>& output_shapes,
    const std::vector<Dtype>& output_dtypes, std::tuple<int, int, int> grid, std::tuple<int, int, int> threadgroup,
    const std::vector<std::pair<std::string, TemplateArg>>& template_args, std::optional<float> init_value,
    bool verbose, StreamOrDevice s)>;

// A custom CUDA kernel (MLX's fast.cuda_kernel): `source` is the body of an extern "C" __global__
// function whose signature tessera generates: `const T* __restrict__ NAME` per input and
// `T* __restrict__ NAME` per output (T from the dtype: float, __half, __nv_bfloat16, int, ...), plus,
// when the body mentions them, `NAME_shape[i]` (int), `NAME_strides[i]` (int64, elements) and
// `NAME_ndim` of an input. `header` goes before the function (helpers, #includes). Compiled by
// NVRTC for the device on the first call and cached (see tessera/backend/cuda/nvrtc.h).
// ensure_row_contiguous: inputs are copied to row-major order first. shared_memory: dynamic shared
// bytes (`extern __shared__` in the body).
CudaKernelFunction cuda_kernel(const std::string& name, const std::vector<std::string>& input_names,
                               const std::vector<std::string>& output_names, const std::string& source,
                               const std::string& header = "", bool ensure_row_contiguous = true,
                               int shared_memory = 0);

}  // namespace tessera::fast
