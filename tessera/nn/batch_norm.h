// nn::BatchNorm (MLX): per-feature normalization over all axes but the last, with running statistics.
#pragma once

#include "tessera/nn/module.h"

namespace tessera::nn {

// x (N, ..., num_features). Training: batch mean/variance (biased), and with track_running_stats
// "running_mean" (zeros) / "running_var" (ones) become (1 - momentum) * running + momentum * batch
// (frozen: never trained). Eval: the running statistics. With affine: "weight" ones, "bias" zeros.
class BatchNorm : public Module {
 public:
  explicit BatchNorm(int num_features, float eps = 1e-5f, float momentum = 0.1f, bool affine = true,
                     bool track_running_stats = true);
  std::string name() const override { return "BatchNorm"; }
  array operator()(const array& x) override;

 private:
  int num_features_;
  float eps_, momentum_;
  bool track_running_stats_;
};

}  // namespace tessera::nn
