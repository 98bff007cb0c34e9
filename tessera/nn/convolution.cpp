// Conv1d / Conv2d layers on top of tessera::conv1d / conv2d.
#include "tessera/nn/convolution.h"

#include <cmath>
#include <stdexcept>

#include "tessera/nn/functional.h"
#include "tessera/ops.h"
#include "tessera/random.h"

namespace tessera::nn {

namespace {
void check_groups(const char* who, int in_channels, int out_channels, int groups) {
  if (groups <= 0 || in_channels % groups != 0 || out_channels % groups != 0) {
    throw std::invalid_argument(std::string("[") + who + "] in_channels (" + std::to_string(in_channels) +
                                ") and out_channels (" + std::to_string(out_channels) +
                                ") must be multiples of groups (" + std::to_string(groups) + ").");
  }
}

std::optional<array> bias_of(const Module& m) {
  return m.contains("bias") ? std::optional<array>(m.get_array("bias")) : std::nullopt;
}
}  // namespace

Conv1d::Conv1d(int in_channels, int out_channels, int kernel_size, int stride, int padding, int dilation,
               int groups, bool bias)
    : stride_(stride), padding_(padding), dilation_(dilation), groups_(groups) {
  check_groups("Conv1d", in_channels, out_channels, groups);
  float scale = std::sqrt(1.0f / static_cast<float>(in_channels * kernel_size));
  register_array("weight", random::uniform(-scale, scale, {out_channels, kernel_size, in_channels / groups}));
  if (bias) register_array("bias", zeros({out_channels}));
}

array Conv1d::operator()(const array& x) {
  return functional::conv1d(x, get_array("weight"), bias_of(*this), stride_, padding_, dilation_, groups_);
}

Conv2d::Conv2d(int in_channels, int out_channels, Pair kernel_size, Pair stride, Pair padding, Pair dilation,
               int groups, bool bias)
    : stride_(stride), padding_(padding), dilation_(dilation), groups_(groups) {
  check_groups("Conv2d", in_channels, out_channels, groups);
  auto [kh, kw] = kernel_size;
  float scale = std::sqrt(1.0f / static_cast<float>(in_channels * kh * kw));
  register_array("weight", random::uniform(-scale, scale, {out_channels, kh, kw, in_channels / groups}));
  if (bias) register_array("bias", zeros({out_channels}));
}

array Conv2d::operator()(const array& x) {
  return functional::conv2d(x, get_array("weight"), bias_of(*this), stride_, padding_, dilation_, groups_);
}

array functional::conv1d(const array& x, const array& weight, const std::optional<array>& bias, int stride,
                         int padding, int dilation, int groups) {
  auto y = tessera::conv1d(x, weight, stride, padding, dilation, groups);
  return bias ? add(y, *bias) : y;
}

array functional::conv2d(const array& x, const array& weight, const std::optional<array>& bias,
                         std::pair<int, int> stride, std::pair<int, int> padding,
                         std::pair<int, int> dilation, int groups) {
  auto y = tessera::conv2d(x, weight, stride, padding, dilation, groups);
  return bias ? add(y, *bias) : y;
}

}  // namespace tessera::nn
