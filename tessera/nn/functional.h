// nn::functional: the math of every nn layer as a function of its input and weights. The C++ Module
// classes and the Python tessera.nn classes (through tessera.core._nn) both call these, so each layer has
// one implementation. RMSNorm, LayerNorm and RoPE are fast::rms_norm / layer_norm / rope directly.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tessera/array.h"

namespace tessera::nn::functional {

// x (..., in), weight (out, in), bias (out,) -> (..., out): x W^T + b.
array linear(const array& x, const array& weight, const std::optional<array>& bias = std::nullopt);

// indices: integers of any shape, weight (num_embeddings, dims) -> (..., dims).
array embedding(const array& indices, const array& weight);

// x (batch, ..., dims), dims % num_groups == 0. Statistics per (batch, group) over the middle axes and
// the group's channels: channel c is in group c % num_groups (MLX), or c / (dims / num_groups) with
// pytorch_compatible. weight, bias (dims,) scale and shift after.
array group_norm(const array& x, int num_groups, const std::optional<array>& weight,
                 const std::optional<array>& bias, float eps = 1e-5f, bool pytorch_compatible = false);

// The output of batch_norm and, when it updated them, the new running statistics.
struct BatchNormResult {
  array y;
  std::optional<array> running_mean, running_var;
};

// x (N, ..., C); weight, bias, running_mean, running_var (C,) each optional. With training or without
// running statistics: the batch mean / biased variance over all axes but the last; with training and
// running statistics, also returns (1 - momentum) * running + momentum * batch (no gradient to them).
// Else (eval) the running statistics. Then (x - mean) rsqrt(var + eps) * weight + bias.
BatchNormResult batch_norm(const array& x, const std::optional<array>& weight,
                           const std::optional<array>& bias, const std::optional<array>& running_mean,
                           const std::optional<array>& running_var, bool training, float momentum = 0.1f,
                           float eps = 1e-5f);

// Zeroes each element of x with probability p (in [0, 1)) and scales the rest by 1 / (1 - p); the mask
// comes from key (else the global PRNG). Integer x gives float32. Always applies (callers skip it in eval).
array dropout(const array& x, float p, const std::optional<array>& key = std::nullopt);

// x (N, L, C_in), weight (C_out, K, C_in / groups), bias (C_out,) -> (N, L_out, C_out).
array conv1d(const array& x, const array& weight, const std::optional<array>& bias, int stride = 1,
             int padding = 0, int dilation = 1, int groups = 1);
// x (N, H, W, C_in), weight (C_out, KH, KW, C_in / groups), bias (C_out,) -> (N, H_out, W_out, C_out).
array conv2d(const array& x, const array& weight, const std::optional<array>& bias,
             std::pair<int, int> stride = {1, 1}, std::pair<int, int> padding = {0, 0},
             std::pair<int, int> dilation = {1, 1}, int groups = 1);

// Pooling over the spatial axes of x (N, *S, C) with len(kernel_size) == len(S): windows of kernel_size
// taps every stride after padding each side (-inf for max; zeros counted in the mean for avg, as MLX).
// An empty stride (or a 0 entry) means kernel_size. -> (N, *O, C), O = (S + 2 padding - kernel) / stride + 1.
array max_pool(const array& x, const std::vector<int>& kernel_size, std::vector<int> stride = {},
               const std::vector<int>& padding = {});
array avg_pool(const array& x, const std::vector<int>& kernel_size, std::vector<int> stride = {},
               const std::vector<int>& padding = {});
// Checks pooling arguments (kernel >= 1, stride >= 1 or 0, 0 <= padding <= kernel / 2) with `who` in the
// message; returns the strides with 0 replaced by the kernel size.
std::vector<int> pool_strides(const std::string& who, const std::vector<int>& kernel_size,
                              std::vector<int> stride, const std::vector<int>& padding);

// The head split of multi-head attention on projected inputs: queries (B, L, H dk), keys (B, S, H dk),
// values (B, S, H dv) -> (B, L, H dv), softmax(q k^T / sqrt(dk) + mask) v per head. mask: additive or
// boolean (true = attend), broadcastable to (B, H, L, S); mask_mode "causal" instead of a mask, or "".
array attention_heads(const array& queries, const array& keys, const array& values, int num_heads,
                      const std::optional<array>& mask = std::nullopt, const std::string& mask_mode = "");

// Projection weights of MultiHeadAttention (nn.Linear layout (out, in)); biases optional.
struct AttentionWeights {
  array query, key, value, out;
  std::optional<array> query_bias, key_bias, value_bias, out_bias;
};

// Full MLX MultiHeadAttention: queries (B, L, Dq), keys (B, S, Dk), values (B, S, Dv) -> (B, L, out dims).
array multi_head_attention(const array& queries, const array& keys, const array& values, int num_heads,
                           const AttentionWeights& w, const std::optional<array>& mask = std::nullopt,
                           const std::string& mask_mode = "");

// (N, N): 0 on and below the diagonal, the dtype's lowest value above.
array additive_causal_mask(int N, Dtype dtype = float32);

// One transformer encoder layer from its parts (modules or functions of (..., dims)):
// norm_first: h = x + dropout(attention(ln1(x))), h + mlp(ln2(h)); else h = ln1(x + dropout(attention(x))),
// ln2(h + mlp(h)). attention is self-attention (a mask is bound by the caller).
using LayerFn = std::function<array(const array&)>;
array transformer_encoder_layer(const array& x, const LayerFn& attention, const LayerFn& mlp,
                                const LayerFn& ln1, const LayerFn& ln2, const LayerFn& dropout,
                                bool norm_first = true);

// Quantized linear: x (..., in), w_q (out, in * bits / 32) uint32, scales / biases (out, in / group_size),
// bias (out,) -> (..., out).
array quantized_linear(const array& x, const array& w_q, const array& scales, const array& biases,
                       const std::optional<array>& bias, int group_size = 64, int bits = 4);
// Quantized table lookup: indices (integers) -> (..., dims); only the rows taken are dequantized.
array quantized_embedding(const array& indices, const array& w_q, const array& scales, const array& biases,
                          int group_size = 64, int bits = 4);

}  // namespace tessera::nn::functional
