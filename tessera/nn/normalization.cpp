// Normalization layers on top of fast::rms_norm / fast::layer_norm and reductions.
#include "tessera/nn/normalization.h"

#include <stdexcept>

#include "tessera/fast.h"
#include "tessera/nn/functional.h"
#include "tessera/ops.h"

namespace tessera::nn {

RMSNorm::RMSNorm(int dims, float eps) : eps_(eps) { register_array("weight", ones({dims})); }
array RMSNorm::operator()(const array& x) { return fast::rms_norm(x, get_array("weight"), eps_); }

LayerNorm::LayerNorm(int dims, float eps, bool affine, bool bias) : eps_(eps) {
  if (affine) {
    register_array("weight", ones({dims}));
    if (bias) register_array("bias", zeros({dims}));
  }
}
array LayerNorm::operator()(const array& x) {
  std::optional<array> w, b;
  if (contains("weight")) w = get_array("weight");
  if (contains("bias")) b = get_array("bias");
  return fast::layer_norm(x, w, b, eps_);
}

GroupNorm::GroupNorm(int num_groups, int dims, float eps, bool affine, bool pytorch_compatible)
    : num_groups_(num_groups), dims_(dims), eps_(eps), pytorch_compatible_(pytorch_compatible) {
  if (num_groups <= 0 || dims % num_groups != 0) {
    throw std::invalid_argument("[GroupNorm] dims (" + std::to_string(dims) +
                                ") must be a multiple of num_groups (" + std::to_string(num_groups) + ").");
  }
  if (affine) {
    register_array("weight", ones({dims}));
    register_array("bias", zeros({dims}));
  }
}

array GroupNorm::operator()(const array& x) {
  if (x.ndim() < 2 || x.shape(-1) != dims_) {
    throw std::invalid_argument("[GroupNorm] expected input (batch, ..., " + std::to_string(dims_) +
                                "), got " + shape_str(x.shape()) + ".");
  }
  std::optional<array> w, b;
  if (contains("weight")) w = get_array("weight"), b = get_array("bias");
  return functional::group_norm(x, num_groups_, w, b, eps_, pytorch_compatible_);
}

array functional::group_norm(const array& x, int num_groups, const std::optional<array>& weight,
                             const std::optional<array>& bias, float eps, bool pytorch_compatible) {
  if (x.ndim() < 2 || num_groups <= 0 || x.shape(-1) % num_groups != 0) {
    throw std::invalid_argument(
        "[nn] group_norm: expected x (batch, ..., dims) with dims a multiple of num_groups (" +
        std::to_string(num_groups) + "), got " + shape_str(x.shape()) + ".");
  }
  int batch = x.shape(0), g = num_groups, gs = x.shape(-1) / num_groups;
  array y = x;
  if (pytorch_compatible) {
    // (batch, rest, g, gs) -> (batch, g, rest * gs), normalized per row.
    y = reshape(transpose(reshape(x, {batch, -1, g, gs}), {0, 2, 1, 3}), {batch, g, -1});
    y = fast::layer_norm(y, std::nullopt, std::nullopt, eps);
    y = reshape(transpose(reshape(y, {batch, g, -1, gs}), {0, 2, 1, 3}), x.shape());
  } else {
    // (batch, rest * gs, g): channel c belongs to group c % g.
    y = reshape(x, {batch, -1, g});
    auto m = mean(y, 1, true);
    auto v = var(y, 1, true);
    y = multiply(subtract(y, m), rsqrt(add(v, array(eps, v.dtype()))));
    y = reshape(y, x.shape());
  }
  if (weight) y = multiply(*weight, y);
  if (bias) y = add(y, *bias);
  return y;
}

}  // namespace tessera::nn
