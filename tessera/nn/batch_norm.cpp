// nn::BatchNorm: batch statistics in training (updating the running ones), running ones in eval.
#include "tessera/nn/batch_norm.h"

#include <numeric>
#include <stdexcept>

#include "tessera/nn/functional.h"
#include "tessera/ops.h"
#include "tessera/transforms.h"

namespace tessera::nn {

BatchNorm::BatchNorm(int num_features, float eps, float momentum, bool affine, bool track_running_stats)
    : num_features_(num_features), eps_(eps), momentum_(momentum), track_running_stats_(track_running_stats) {
  if (num_features < 1) throw std::invalid_argument("[BatchNorm] num_features must be positive.");
  if (affine) {
    register_array("weight", ones({num_features}));
    register_array("bias", zeros({num_features}));
  }
  if (track_running_stats) {
    register_array("running_mean", zeros({num_features}));
    register_array("running_var", ones({num_features}));
    freeze(false, std::vector<std::string>{"running_mean", "running_var"});
  }
}

array BatchNorm::operator()(const array& x) {
  if (x.ndim() < 2 || x.shape(-1) != num_features_) {
    throw std::invalid_argument("[BatchNorm] expects (N, ..., " + std::to_string(num_features_) +
                                ") inputs, got " + shape_str(x.shape()) + ".");
  }
  auto opt = [&](const char* key) {
    return contains(key) ? std::optional<array>(get_array(key)) : std::nullopt;
  };
  auto r = functional::batch_norm(x, opt("weight"), opt("bias"), opt("running_mean"), opt("running_var"),
                                  training(), momentum_, eps_);
  if (r.running_mean) register_array("running_mean", *r.running_mean);
  if (r.running_var) register_array("running_var", *r.running_var);
  return r.y;
}

functional::BatchNormResult functional::batch_norm(const array& x, const std::optional<array>& weight,
                                                   const std::optional<array>& bias,
                                                   const std::optional<array>& running_mean,
                                                   const std::optional<array>& running_var, bool training,
                                                   float momentum, float eps) {
  if (x.ndim() < 2)
    throw std::invalid_argument("[nn] BatchNorm expects (N, ..., C) inputs, got " + shape_str(x.shape()) +
                                ".");
  for (const auto* p : {&weight, &bias, &running_mean, &running_var}) {
    if (*p && (*p)->shape() != Shape{x.shape(-1)}) {
      throw std::invalid_argument("[nn] BatchNorm expects (N, ..., " + shape_str((*p)->shape()) +
                                  ") inputs, got " + shape_str(x.shape()) + ".");
    }
  }
  if (running_mean.has_value() != running_var.has_value()) {
    throw std::invalid_argument("[nn] BatchNorm needs both running_mean and running_var, or neither.");
  }
  std::vector<int> axes(x.ndim() - 1);
  std::iota(axes.begin(), axes.end(), 0);
  BatchNormResult out{x, std::nullopt, std::nullopt};
  array m = x, v = x;
  if (training || !running_mean) {
    m = mean(x, axes);
    v = var(x, axes);
    if (training && running_mean) {
      auto mu = array(momentum, float32), keep = array(1.0f - momentum, float32);
      auto upd = [&](const array& r, const array& batch) {
        return astype(add(multiply(keep, r), multiply(mu, stop_gradient(batch))), r.dtype());
      };
      out.running_mean = upd(*running_mean, m);
      out.running_var = upd(*running_var, v);
    }
  } else {
    m = *running_mean;
    v = *running_var;
  }
  auto y = multiply(subtract(x, m), rsqrt(add(v, array(eps, float32))));
  if (weight) y = multiply(*weight, y);
  if (bias) y = add(y, *bias);
  out.y = y;
  return out;
}

}  // namespace tessera::nn
