// Normalization layers (MLX): RMSNorm, LayerNorm, GroupNorm over the last (feature) axis.
#pragma once

#include "tessera/nn/module.h"

namespace tessera::nn {

// "weight" (dims,) = ones. x: (..., dims).
class RMSNorm : public Module {
 public:
  explicit RMSNorm(int dims, float eps = 1e-5f);
  std::string name() const override { return "RMSNorm"; }
  array operator()(const array& x) override;

 private:
  float eps_;
};

// With affine: "weight" (dims,) = ones and, with bias, "bias" (dims,) = zeros. x: (..., dims).
class LayerNorm : public Module {
 public:
  explicit LayerNorm(int dims, float eps = 1e-5f, bool affine = true, bool bias = true);
  std::string name() const override { return "LayerNorm"; }
  array operator()(const array& x) override;

 private:
  float eps_;
};

// x: (batch, ..., dims), dims divisible by num_groups. Statistics per (batch, group) over the
// spatial dims and the group's features. MLX's default groups channels c with c % num_groups;
// pytorch_compatible groups consecutive channels. With affine: "weight" ones, "bias" zeros (dims,).
class GroupNorm : public Module {
 public:
  GroupNorm(int num_groups, int dims, float eps = 1e-5f, bool affine = true, bool pytorch_compatible = false);
  std::string name() const override { return "GroupNorm"; }
  array operator()(const array& x) override;

 private:
  int num_groups_, dims_;
  float eps_;
  bool pytorch_compatible_;
};

}  // namespace tessera::nn
