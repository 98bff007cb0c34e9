// Pooling as one strided slice per kernel tap, stacked on a new last axis and reduced (composes with
// every transform).
#include "tessera/nn/pooling.h"

#include <limits>
#include <stdexcept>

#include "tessera/ops.h"

namespace tessera::nn {

Pool::Pool(Kind kind, std::vector<int> kernel_size, std::vector<int> stride, std::vector<int> padding)
    : kind_(kind), kernel_(std::move(kernel_size)), stride_(std::move(stride)), padding_(std::move(padding)) {
  for (size_t a = 0; a < kernel_.size(); ++a) {
    if (stride_[a] == 0) stride_[a] = kernel_[a];
    if (kernel_[a] < 1 || stride_[a] < 1 || padding_[a] < 0) {
      throw std::invalid_argument("[" + name() + "] needs kernel_size >= 1, stride >= 1 and padding >= 0.");
    }
    if (padding_[a] > kernel_[a] / 2) {
      throw std::invalid_argument("[" + name() + "] padding (" + std::to_string(padding_[a]) +
                                  ") must be at most half the kernel size (" + std::to_string(kernel_[a]) + ").");
    }
  }
}

std::string Pool::name() const {
  return std::string(kind_ == Kind::max ? "MaxPool" : "AvgPool") + std::to_string(kernel_.size()) + "d";
}

array Pool::operator()(const array& x_in) {
  int d = static_cast<int>(kernel_.size());
  if (x_in.ndim() != d + 2) {
    throw std::invalid_argument("[" + name() + "] expects (N, " + std::to_string(d) + " spatial dims, C) inputs, got " +
                                shape_str(x_in.shape()) + ".");
  }
  array x = x_in;
  std::vector<int> axes;
  Shape pads;
  for (int a = 0; a < d; ++a) {
    axes.push_back(a + 1);
    pads.push_back(padding_[a]);
  }
  double fill = kind_ == Kind::max ? -std::numeric_limits<double>::infinity() : 0.0;
  x = pad(x, axes, pads, pads, array(fill, x.dtype()));
  Shape out;
  int taps = 1;
  for (int a = 0; a < d; ++a) {
    int span = x.shape(a + 1) - kernel_[a];
    if (span < 0) {
      throw std::invalid_argument("[" + name() + "] the pooling window is larger than the input " +
                                  shape_str(x_in.shape()) + ".");
    }
    out.push_back(span / stride_[a] + 1);
    taps *= kernel_[a];
  }
  std::vector<array> windows;
  for (int t = 0; t < taps; ++t) {
    Shape start(d + 2, 0), stop = x.shape(), steps(d + 2, 1);
    int rest = t;
    for (int a = d - 1; a >= 0; --a) {
      start[a + 1] = rest % kernel_[a];
      rest /= kernel_[a];
      stop[a + 1] = start[a + 1] + (out[a] - 1) * stride_[a] + 1;
      steps[a + 1] = stride_[a];
    }
    windows.push_back(slice(x, start, stop, steps));
  }
  auto w = stack(windows, -1);
  return kind_ == Kind::max ? max(w, -1) : mean(w, -1);
}

MaxPool1d::MaxPool1d(int k, int s, int p) : Pool(Kind::max, {k}, {s}, {p}) {}
AvgPool1d::AvgPool1d(int k, int s, int p) : Pool(Kind::avg, {k}, {s}, {p}) {}
MaxPool2d::MaxPool2d(std::pair<int, int> k, std::pair<int, int> s, std::pair<int, int> p)
    : Pool(Kind::max, {k.first, k.second}, {s.first, s.second}, {p.first, p.second}) {}
AvgPool2d::AvgPool2d(std::pair<int, int> k, std::pair<int, int> s, std::pair<int, int> p)
    : Pool(Kind::avg, {k.first, k.second}, {s.first, s.second}, {p.first, p.second}) {}

}  // namespace tessera::nn
