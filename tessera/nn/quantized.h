// nn::QuantizedLinear / nn::QuantizedEmbedding (MLX): affine-quantized weights ("weight" uint32, "scales",
// "biases") used through quantized_matmul, and nn::quantize to swap them into a model.
#pragma once

#include <functional>
#include <optional>
#include <utility>

#include "tessera/nn/embedding.h"
#include "tessera/nn/linear.h"
#include "tessera/nn/module.h"

namespace tessera::nn {

// y = x W^T + b with W (output_dims, input_dims) quantized in groups of group_size along input_dims.
class QuantizedLinear : public Module {
 public:
  // Random weights (as Linear's) quantized; parameters frozen as in MLX.
  QuantizedLinear(int input_dims, int output_dims, bool bias = true, int group_size = 64, int bits = 4);
  static std::shared_ptr<QuantizedLinear> from_linear(const Linear& linear, int group_size = 64, int bits = 4);
  std::string name() const override { return "QuantizedLinear"; }
  // x: (..., input_dims) -> (..., output_dims).
  array operator()(const array& x) override;
  int group_size() const { return group_size_; }
  int bits() const { return bits_; }

 private:
  QuantizedLinear() = default;
  int group_size_ = 64, bits_ = 4;
};

// A lookup table (num_embeddings, dims) quantized along dims; lookups dequantize only the rows taken.
class QuantizedEmbedding : public Module {
 public:
  QuantizedEmbedding(int num_embeddings, int dims, int group_size = 64, int bits = 4);
  static std::shared_ptr<QuantizedEmbedding> from_embedding(const Embedding& embedding, int group_size = 64,
                                                            int bits = 4);
  std::string name() const override { return "QuantizedEmbedding"; }
  // x: integer indices of any shape -> (..., dims).
  array operator()(const array& x) override;
  // x: (..., dims) -> (..., num_embeddings) without dequantizing the table (tied output head).
  array as_linear(const array& x) const;
  int group_size() const { return group_size_; }
  int bits() const { return bits_; }

 private:
  QuantizedEmbedding() = default;
  int group_size_ = 64, bits_ = 4;
};

// Per layer: nullopt leaves it, {group_size, bits} quantizes it with those settings.
using QuantizePredicate = std::function<std::optional<std::pair<int, int>>(const std::string& path, const Module&)>;

// Replaces (in place) the Linear and Embedding descendants of model that `predicate` picks (default: those
// whose input size is a multiple of group_size, at group_size / bits) by quantized ones.
void quantize(Module& model, int group_size = 64, int bits = 4, const QuantizePredicate& predicate = nullptr);

}  // namespace tessera::nn
