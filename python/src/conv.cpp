// Bindings for tessera/ops/conv.h: conv1d, conv2d, conv3d (channels-last, MLX layout).
#include "utils.h"

using namespace tessera;
using txpy::to_array;

namespace {

std::pair<int, int> pair_of(const IntOrVec& v) {
  auto x = txpy::to_vec(v);
  if (x.size() == 1) return {x[0], x[0]};
  if (x.size() != 2) throw std::invalid_argument("[conv2d] expected an int or a pair.");
  return {x[0], x[1]};
}

std::tuple<int, int, int> triple_of(const IntOrVec& v) {
  auto x = txpy::to_vec(v);
  if (x.size() == 1) return {x[0], x[0], x[0]};
  if (x.size() != 3) throw std::invalid_argument("[conv3d] expected an int or a triple.");
  return {x[0], x[1], x[2]};
}

}  // namespace

void init_conv(nb::module_& m) {
  m.def("conv1d",
        [](const ArrayLike& in, const ArrayLike& w, int stride, int padding, int dilation, int groups,
           StreamOrDevice s) { return conv1d(to_array(in), to_array(w), stride, padding, dilation, groups, s); },
        "input"_a, "weight"_a, "stride"_a = 1, "padding"_a = 0, "dilation"_a = 1, "groups"_a = 1, TX_STREAM,
        "1-D convolution: input (N, L, C_in), weight (C_out, K, C_in / groups).");
  m.def("conv2d",
        [](const ArrayLike& in, const ArrayLike& w, const IntOrVec& stride, const IntOrVec& padding,
           const IntOrVec& dilation, int groups, StreamOrDevice s) {
          return conv2d(to_array(in), to_array(w), pair_of(stride), pair_of(padding), pair_of(dilation), groups, s);
        },
        "input"_a, "weight"_a, "stride"_a = 1, "padding"_a = 0, "dilation"_a = 1, "groups"_a = 1, TX_STREAM,
        "2-D convolution: input (N, H, W, C_in), weight (C_out, KH, KW, C_in / groups).");
  m.def("conv3d",
        [](const ArrayLike& in, const ArrayLike& w, const IntOrVec& stride, const IntOrVec& padding,
           const IntOrVec& dilation, int groups, StreamOrDevice s) {
          return conv3d(to_array(in), to_array(w), triple_of(stride), triple_of(padding), triple_of(dilation), groups,
                        s);
        },
        "input"_a, "weight"_a, "stride"_a = 1, "padding"_a = 0, "dilation"_a = 1, "groups"_a = 1, TX_STREAM,
        "3-D convolution: input (N, D, H, W, C_in), weight (C_out, KD, KH, KW, C_in / groups).");
}
