// Pooling layers (MLX): MaxPool1d/2d and AvgPool1d/2d over channels-last inputs (N, *spatial, C).
#pragma once

#include <vector>

#include "tessera/nn/module.h"

namespace tessera::nn {

// Windows of kernel_size taps every stride (default: kernel_size) along the spatial axes, after
// padding each side (-inf for max, zeros counted in the mean for avg, as MLX). No parameters.
class Pool : public Module {
 public:
  enum class Kind { max, avg };
  Pool(Kind kind, std::vector<int> kernel_size, std::vector<int> stride, std::vector<int> padding);
  std::string name() const override;
  // x (N, *S, C) -> (N, *O, C), O = (S + 2 padding - kernel_size) / stride + 1.
  array operator()(const array& x) override;

 private:
  Kind kind_;
  std::vector<int> kernel_, stride_, padding_;
};

// stride 0 means "kernel_size".
class MaxPool1d : public Pool {
 public:
  explicit MaxPool1d(int kernel_size, int stride = 0, int padding = 0);
};
class AvgPool1d : public Pool {
 public:
  explicit AvgPool1d(int kernel_size, int stride = 0, int padding = 0);
};
class MaxPool2d : public Pool {
 public:
  explicit MaxPool2d(std::pair<int, int> kernel_size, std::pair<int, int> stride = {0, 0},
                     std::pair<int, int> padding = {0, 0});
};
class AvgPool2d : public Pool {
 public:
  explicit AvgPool2d(std::pair<int, int> kernel_size, std::pair<int, int> stride = {0, 0},
                     std::pair<int, int> padding = {0, 0});
};

}  // namespace tessera::nn
