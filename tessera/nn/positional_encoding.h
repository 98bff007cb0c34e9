// nn::RoPE (MLX): rotary positional encoding module wrapping fast::rope.
#pragma once

#include "tessera/nn/module.h"

namespace tessera::nn {

class RoPE : public Module {
 public:
  explicit RoPE(int dims, bool traditional = false, float base = 10000.0f, float scale = 1.0f);
  std::string name() const override { return "RoPE"; }
  // x: (..., L, D) with D >= dims; positions offset .. offset + L - 1.
  array operator()(const array& x) override { return (*this)(x, 0); }
  array operator()(const array& x, int offset);

 private:
  int dims_;
  bool traditional_;
  float base_, scale_;
};

}  // namespace tessera::nn
