// Convolution layers (MLX): Conv1d, Conv2d in the channels-last layout.
#pragma once

#include <utility>

#include "tessera/nn/module.h"

namespace tessera::nn {

// "weight" (out_channels, kernel_size, in_channels / groups) ~ uniform(+-sqrt(1 / (in_channels *
// kernel_size))); "bias" (out_channels,) = zeros. x: (N, L, in_channels) -> (N, L_out, out_channels).
class Conv1d : public Module {
 public:
  Conv1d(int in_channels, int out_channels, int kernel_size, int stride = 1, int padding = 0, int dilation = 1,
         int groups = 1, bool bias = true);
  std::string name() const override { return "Conv1d"; }
  array operator()(const array& x) override;

 private:
  int stride_, padding_, dilation_, groups_;
};

// "weight" (out_channels, kh, kw, in_channels / groups) ~ uniform(+-sqrt(1 / (in_channels * kh * kw)));
// "bias" zeros. x: (N, H, W, in_channels) -> (N, H_out, W_out, out_channels).
class Conv2d : public Module {
 public:
  using Pair = std::pair<int, int>;
  Conv2d(int in_channels, int out_channels, Pair kernel_size, Pair stride = {1, 1}, Pair padding = {0, 0},
         Pair dilation = {1, 1}, int groups = 1, bool bias = true);
  Conv2d(int in_channels, int out_channels, int kernel_size, int stride = 1, int padding = 0, int dilation = 1,
         int groups = 1, bool bias = true)
      : Conv2d(in_channels, out_channels, {kernel_size, kernel_size}, {stride, stride}, {padding, padding},
               {dilation, dilation}, groups, bias) {}
  std::string name() const override { return "Conv2d"; }
  array operator()(const array& x) override;

 private:
  Pair stride_, padding_, dilation_;
  int groups_;
};

}  // namespace tessera::nn
