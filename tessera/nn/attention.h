// nn::MultiHeadAttention (MLX): projections, per-head scaled dot-product attention, output projection.
#pragma once

#include <optional>
#include <string>

#include "tessera/nn/module.h"

namespace tessera::nn {

// Children "query_proj" (query_input_dims -> dims), "key_proj" (key_input_dims -> dims), "value_proj"
// (value_input_dims -> value_dims), "out_proj" (value_dims -> value_output_dims); unset dims default
// as MLX (query/key input and value dims to dims, value input to key input, value output to dims).
class MultiHeadAttention : public Module {
 public:
  MultiHeadAttention(int dims, int num_heads, std::optional<int> query_input_dims = std::nullopt,
                     std::optional<int> key_input_dims = std::nullopt,
                     std::optional<int> value_input_dims = std::nullopt, std::optional<int> value_dims = std::nullopt,
                     std::optional<int> value_output_dims = std::nullopt, bool bias = false);
  std::string name() const override { return "MultiHeadAttention"; }

  // queries (B, L, Dq), keys (B, S, Dk), values (B, S, Dv) -> (B, L, value_output_dims). mask: additive
  // or boolean (true = attend), broadcastable to (B, num_heads, L, S).
  array operator()(const array& queries, const array& keys, const array& values,
                   const std::optional<array>& mask = std::nullopt);
  // mask_mode "causal": query i attends to keys j <= i + S - L.
  array operator()(const array& queries, const array& keys, const array& values, const std::string& mask_mode);
  // Self-attention without a mask.
  array operator()(const array& x) override { return (*this)(x, x, x); }

  // (N, N): 0 on and below the diagonal, the dtype's lowest value above.
  static array create_additive_causal_mask(int N, Dtype dtype = float32);

 private:
  array attend(const array& queries, const array& keys, const array& values, const std::string& mode,
               const std::optional<array>& mask);
  int num_heads_;
};

}  // namespace tessera::nn
