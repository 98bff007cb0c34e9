// Convolution ops: validate arguments, promote dtypes and build the Convolution node.
#include "tessera/ops/conv.h"

#include "tessera/ops/shape.h"
#include "tessera/primitives/conv.h"

namespace tessera {

namespace {

array conv_nd(const char* op, const array& input, const array& weight, const std::vector<int>& stride,
              const std::vector<int>& padding, const std::vector<int>& dilation, int groups, StreamOrDevice s) {
  auto st = to_stream(s);
  std::string pre = std::string("[") + op + "] ";
  int D = static_cast<int>(stride.size());
  if (input.ndim() != D + 2) {
    throw std::invalid_argument(pre + "Invalid input array with " + std::to_string(input.ndim()) +
                                " dimensions. Expected an array with " + std::to_string(D + 2) +
                                " dimensions (N, spatial..., C_in).");
  }
  if (weight.ndim() != D + 2) {
    throw std::invalid_argument(pre + "Invalid weight array with " + std::to_string(weight.ndim()) +
                                " dimensions. Expected an array with " + std::to_string(D + 2) +
                                " dimensions (C_out, kernel..., C_in / groups).");
  }
  if (groups < 1) throw std::invalid_argument(pre + "groups must be positive, got " + std::to_string(groups) + ".");
  ShapeElem cin = input.shape(-1), cout = weight.shape(0);
  if (cin % groups != 0 || weight.shape(-1) * groups != cin) {
    throw std::invalid_argument(pre + "Input channels (" + std::to_string(cin) + ") must equal groups (" +
                                std::to_string(groups) + ") times the weight's channels (" +
                                std::to_string(weight.shape(-1)) + ").");
  }
  if (cout % groups != 0) {
    throw std::invalid_argument(pre + "Output channels (" + std::to_string(cout) + ") must be divisible by groups (" +
                                std::to_string(groups) + ").");
  }
  Shape out_shape{input.shape(0)};
  for (int d = 0; d < D; ++d) {
    if (stride[d] < 1) throw std::invalid_argument(pre + "stride must be positive, got " + std::to_string(stride[d]) + ".");
    if (dilation[d] < 1) {
      throw std::invalid_argument(pre + "dilation must be positive, got " + std::to_string(dilation[d]) + ".");
    }
    if (padding[d] < 0) {
      throw std::invalid_argument(pre + "padding must be non-negative, got " + std::to_string(padding[d]) + ".");
    }
    int64_t k = weight.shape(d + 1);
    if (k < 1) throw std::invalid_argument(pre + "kernel spatial size must be positive.");
    int64_t span = static_cast<int64_t>(input.shape(d + 1)) + 2 * padding[d] - dilation[d] * (k - 1) - 1;
    if (span < 0) {
      throw std::invalid_argument(pre + "Calculated output spatial size is not positive: the (dilated) kernel of "
                                        "size " + std::to_string(k) + " is larger than the padded input.");
    }
    out_shape.push_back(static_cast<ShapeElem>(span / stride[d] + 1));
  }
  out_shape.push_back(cout);
  Dtype t = promote_types(input.dtype(), weight.dtype());
  if (!is_floating_point(t)) {
    throw std::invalid_argument(pre + "Only real floating point types are supported, got " + dtype_name(t) + ".");
  }
  return array(out_shape, t, std::make_shared<Convolution>(st, stride, padding, dilation, groups),
               {astype(input, t, st), astype(weight, t, st)});
}

}  // namespace

array conv1d(const array& input, const array& weight, int stride, int padding, int dilation, int groups,
             StreamOrDevice s) {
  return conv_nd("conv1d", input, weight, {stride}, {padding}, {dilation}, groups, s);
}

array conv2d(const array& input, const array& weight, const std::pair<int, int>& stride,
             const std::pair<int, int>& padding, const std::pair<int, int>& dilation, int groups, StreamOrDevice s) {
  return conv_nd("conv2d", input, weight, {stride.first, stride.second}, {padding.first, padding.second},
                 {dilation.first, dilation.second}, groups, s);
}

array conv3d(const array& input, const array& weight, const std::tuple<int, int, int>& stride,
             const std::tuple<int, int, int>& padding, const std::tuple<int, int, int>& dilation, int groups,
             StreamOrDevice s) {
  auto v = [](const std::tuple<int, int, int>& t) {
    return std::vector<int>{std::get<0>(t), std::get<1>(t), std::get<2>(t)};
  };
  return conv_nd("conv3d", input, weight, v(stride), v(padding), v(dilation), groups, s);
}

}  // namespace tessera
