// nn::Embedding (MLX): a lookup table of num_embeddings vectors of size dims.
#pragma once

#include "tessera/nn/module.h"

namespace tessera::nn {

// "weight" (num_embeddings, dims) ~ normal(0, 1/sqrt(dims)).
class Embedding : public Module {
 public:
  Embedding(int num_embeddings, int dims);
  std::string name() const override { return "Embedding"; }
  // x: integer indices of any shape -> (..., dims).
  array operator()(const array& x) override;
  // x: (..., dims) -> (..., num_embeddings): x W^T (a tied output head).
  array as_linear(const array& x) const;
};

}  // namespace tessera::nn
