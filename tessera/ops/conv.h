// Convolution ops in MLX's channels-last layout (input (N, ..., C_in), weight (C_out, ..., C_in/groups)).
#pragma once

#include <tuple>
#include <utility>

#include "tessera/array.h"
#include "tessera/device.h"

namespace tessera {

// input (N, L, C_in), weight (C_out, K, C_in / groups) -> (N, L_out, C_out); padding on both sides.
array conv1d(const array& input, const array& weight, int stride = 1, int padding = 0, int dilation = 1,
             int groups = 1, StreamOrDevice s = {});
// input (N, H, W, C_in), weight (C_out, KH, KW, C_in / groups) -> (N, H_out, W_out, C_out).
array conv2d(const array& input, const array& weight, const std::pair<int, int>& stride = {1, 1},
             const std::pair<int, int>& padding = {0, 0}, const std::pair<int, int>& dilation = {1, 1},
             int groups = 1, StreamOrDevice s = {});
// input (N, D, H, W, C_in), weight (C_out, KD, KH, KW, C_in / groups) -> (N, D_out, H_out, W_out, C_out).
array conv3d(const array& input, const array& weight, const std::tuple<int, int, int>& stride = {1, 1, 1},
             const std::tuple<int, int, int>& padding = {0, 0, 0},
             const std::tuple<int, int, int>& dilation = {1, 1, 1}, int groups = 1, StreamOrDevice s = {});

}  // namespace tessera
