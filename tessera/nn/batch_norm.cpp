// nn::BatchNorm: batch statistics in training (updating the running ones), running ones in eval.
#include "tessera/nn/batch_norm.h"

#include <numeric>
#include <stdexcept>

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
    throw std::invalid_argument("[BatchNorm] expects (N, ..., " + std::to_string(num_features_) + ") inputs, got " +
                                shape_str(x.shape()) + ".");
  }
  std::vector<int> axes(x.ndim() - 1);
  std::iota(axes.begin(), axes.end(), 0);
  array m = x, v = x;
  if (training() || !track_running_stats_) {
    m = mean(x, axes);
    v = var(x, axes);
    if (training() && track_running_stats_) {
      auto mu = array(momentum_, float32), keep = array(1.0f - momentum_, float32);
      auto upd = [&](const char* key, const array& batch) {
        auto r = get_array(key);
        register_array(key, astype(add(multiply(keep, r), multiply(mu, stop_gradient(batch))), r.dtype()));
      };
      upd("running_mean", m);
      upd("running_var", v);
    }
  } else {
    m = get_array("running_mean");
    v = get_array("running_var");
  }
  auto y = multiply(subtract(x, m), rsqrt(add(v, array(eps_, float32))));
  if (contains("weight")) y = add(multiply(get_array("weight"), y), get_array("bias"));
  return y;
}

}  // namespace tessera::nn
