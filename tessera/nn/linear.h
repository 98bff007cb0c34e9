// nn::Linear (MLX): y = x W^T + b with W (output_dims, input_dims), b (output_dims,).
#pragma once

#include "tessera/nn/module.h"

namespace tessera::nn {

// Parameters "weight" (output_dims, input_dims) and, with bias, "bias" (output_dims,), both
// uniform(-1/sqrt(input_dims), 1/sqrt(input_dims)).
class Linear : public Module {
 public:
  Linear(int input_dims, int output_dims, bool bias = true);
  std::string name() const override { return "Linear"; }
  // x: (..., input_dims) -> (..., output_dims).
  array operator()(const array& x) override;
};

}  // namespace tessera::nn
