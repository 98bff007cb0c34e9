// Pooling as one strided slice per kernel tap, stacked on a new last axis and reduced (composes with
// every transform).
#include "tessera/nn/pooling.h"

#include <limits>
#include <stdexcept>

#include "tessera/nn/functional.h"
#include "tessera/ops.h"

namespace tessera::nn {

Pool::Pool(Kind kind, std::vector<int> kernel_size, std::vector<int> stride, std::vector<int> padding)
    : kind_(kind), kernel_(std::move(kernel_size)), padding_(std::move(padding)) {
  stride_ = functional::pool_strides(name(), kernel_, std::move(stride), padding_);
}

std::string Pool::name() const {
  return std::string(kind_ == Kind::max ? "MaxPool" : "AvgPool") + std::to_string(kernel_.size()) + "d";
}

array Pool::operator()(const array& x) {
  return kind_ == Kind::max ? functional::max_pool(x, kernel_, stride_, padding_)
                            : functional::avg_pool(x, kernel_, stride_, padding_);
}

std::vector<int> functional::pool_strides(const std::string& who, const std::vector<int>& kernel_size,
                                          std::vector<int> stride, const std::vector<int>& padding) {
  size_t d = kernel_size.size();
  if (stride.empty()) stride.assign(d, 0);
  if (d == 0 || stride.size() != d || (!padding.empty() && padding.size() != d)) {
    throw std::invalid_argument("[nn] " + who +
                                " needs kernel_size, stride and padding with one entry per spatial axis.");
  }
  for (size_t a = 0; a < d; ++a) {
    int p = padding.empty() ? 0 : padding[a];
    if (stride[a] == 0) stride[a] = kernel_size[a];
    if (kernel_size[a] < 1 || stride[a] < 1 || p < 0) {
      throw std::invalid_argument("[nn] " + who + " needs kernel_size >= 1, stride >= 1 and padding >= 0.");
    }
    if (p > kernel_size[a] / 2) {
      throw std::invalid_argument("[nn] " + who + " padding (" + std::to_string(p) +
                                  ") must be at most half the kernel size (" +
                                  std::to_string(kernel_size[a]) + ").");
    }
  }
  return stride;
}

namespace {

// One strided slice per kernel tap, stacked on a new last axis -> (N, *O, C, taps).
array pool_windows(const std::string& who, const array& x_in, const std::vector<int>& kernel,
                   std::vector<int> stride, std::vector<int> padding, double fill) {
  int d = static_cast<int>(kernel.size());
  stride = functional::pool_strides(who, kernel, std::move(stride), padding);
  if (padding.empty()) padding.assign(d, 0);
  if (x_in.ndim() != d + 2) {
    throw std::invalid_argument("[nn] " + who + " expects (N, " + std::to_string(d) +
                                " spatial dims, C) inputs, got " + shape_str(x_in.shape()) + ".");
  }
  std::vector<int> axes;
  Shape pads;
  for (int a = 0; a < d; ++a) {
    axes.push_back(a + 1);
    pads.push_back(padding[a]);
  }
  array x = pad(x_in, axes, pads, pads, array(fill, x_in.dtype()));
  Shape out;
  int taps = 1;
  for (int a = 0; a < d; ++a) {
    int span = x.shape(a + 1) - kernel[a];
    if (span < 0) {
      throw std::invalid_argument("[nn] " + who + ": the pooling window is larger than the input " +
                                  shape_str(x_in.shape()) + ".");
    }
    out.push_back(span / stride[a] + 1);
    taps *= kernel[a];
  }
  std::vector<array> windows;
  for (int t = 0; t < taps; ++t) {
    Shape start(d + 2, 0), stop = x.shape(), steps(d + 2, 1);
    int rest = t;
    for (int a = d - 1; a >= 0; --a) {
      start[a + 1] = rest % kernel[a];
      rest /= kernel[a];
      stop[a + 1] = start[a + 1] + (out[a] - 1) * stride[a] + 1;
      steps[a + 1] = stride[a];
    }
    windows.push_back(slice(x, start, stop, steps));
  }
  return stack(windows, -1);
}

std::string pool_name(const char* kind, size_t d) { return kind + std::to_string(d) + "d"; }

}  // namespace

array functional::max_pool(const array& x, const std::vector<int>& kernel_size, std::vector<int> stride,
                           const std::vector<int>& padding) {
  return max(pool_windows(pool_name("MaxPool", kernel_size.size()), x, kernel_size, std::move(stride),
                          padding, -std::numeric_limits<double>::infinity()),
             -1);
}

array functional::avg_pool(const array& x, const std::vector<int>& kernel_size, std::vector<int> stride,
                           const std::vector<int>& padding) {
  return mean(
      pool_windows(pool_name("AvgPool", kernel_size.size()), x, kernel_size, std::move(stride), padding, 0.0),
      -1);
}

MaxPool1d::MaxPool1d(int k, int s, int p) : Pool(Kind::max, {k}, {s}, {p}) {}
AvgPool1d::AvgPool1d(int k, int s, int p) : Pool(Kind::avg, {k}, {s}, {p}) {}
MaxPool2d::MaxPool2d(std::pair<int, int> k, std::pair<int, int> s, std::pair<int, int> p)
    : Pool(Kind::max, {k.first, k.second}, {s.first, s.second}, {p.first, p.second}) {}
AvgPool2d::AvgPool2d(std::pair<int, int> k, std::pair<int, int> s, std::pair<int, int> p)
    : Pool(Kind::avg, {k.first, k.second}, {s.first, s.second}, {p.first, p.second}) {}

}  // namespace tessera::nn
