// nn::TransformerEncoderLayer and nn::TransformerEncoder (MLX): self-attention and an MLP with residuals.
#pragma once

#include <functional>
#include <optional>

#include "tessera/nn/module.h"

namespace tessera::nn {

// Children "attention" (MultiHeadAttention(dims, num_heads)), "ln1", "ln2" (LayerNorm(dims)),
// "linear1" (dims -> mlp_dims, default 4 dims), "linear2" (mlp_dims -> dims), "dropout1", "dropout2".
// norm_first: x + attn(ln1(x)), then + mlp(ln2(.)); else ln1(x + attn(x)), then ln2(. + mlp(.)).
class TransformerEncoderLayer : public Module {
 public:
  using Activation = std::function<array(const array&)>;
  TransformerEncoderLayer(int dims, int num_heads, std::optional<int> mlp_dims = std::nullopt, float dropout = 0.0f,
                          Activation activation = nullptr, bool norm_first = true);
  std::string name() const override { return "TransformerEncoderLayer"; }
  // x (B, L, dims); mask additive or boolean, broadcastable to (B, num_heads, L, L).
  array operator()(const array& x, const std::optional<array>& mask);
  array operator()(const array& x) override { return (*this)(x, std::nullopt); }

 private:
  array mlp(const array& x);
  Activation activation_;  // relu when not given
  bool norm_first_;
};

// "layers" (num_layers TransformerEncoderLayer) then "ln" (LayerNorm(dims)).
class TransformerEncoder : public Module {
 public:
  TransformerEncoder(int num_layers, int dims, int num_heads, std::optional<int> mlp_dims = std::nullopt,
                     float dropout = 0.0f, TransformerEncoderLayer::Activation activation = nullptr,
                     bool norm_first = true);
  std::string name() const override { return "TransformerEncoder"; }
  array operator()(const array& x, const std::optional<array>& mask);
  array operator()(const array& x) override { return (*this)(x, std::nullopt); }
};

}  // namespace tessera::nn
