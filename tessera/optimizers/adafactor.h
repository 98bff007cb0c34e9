// Adafactor (MLX's mlx.optimizers.Adafactor): factored second moments for matrices, relative step sizes.
#pragma once

#include <optional>
#include <utility>

#include "tessera/optimizers/optimizer.h"

namespace tessera::optimizers {

// At step t: lr_t = (relative_step ? min(warmup_init ? 1e-6 t : 1e-2, 1/sqrt(t)) : learning_rate) *
// (scale_parameter ? max(eps2, rms(p)) : 1); beta2 = 1 - t^decay_rate; u = g^2 + eps1.
// ndim >= 2: row = beta2 row + (1 - beta2) mean(u, -1), col = beta2 col + (1 - beta2) mean(u, -2),
// update = rsqrt(row / mean(row, -1)) outer rsqrt(col) * g; else v = beta2 v + (1 - beta2) u, update =
// rsqrt(v) g. update /= max(1, rms(update) / clip_threshold); update *= lr_t; with beta_1 update =
// exp_avg = beta_1 exp_avg + (1 - beta_1) update; p += p (-weight_decay lr_t); p -= update.
class Adafactor : public Optimizer {
 public:
  explicit Adafactor(std::optional<float> learning_rate = std::nullopt,
                     std::pair<float, float> eps = {1e-30f, 1e-3f}, float clip_threshold = 1.0f,
                     float decay_rate = -0.8f, std::optional<float> beta_1 = std::nullopt,
                     float weight_decay = 0.0f, bool scale_parameter = true, bool relative_step = true,
                     bool warmup_init = false);
  std::string name() const override { return "Adafactor"; }

 protected:
  void init_single(const array& parameter, Tree& state) override;
  array apply_single(const array& gradient, const array& parameter, Tree& state) override;

 private:
  std::pair<float, float> eps_;
  float clip_threshold_, decay_rate_;
  std::optional<float> beta_1_;
  float weight_decay_;
  bool scale_parameter_, relative_step_, warmup_init_;
};

}  // namespace tessera::optimizers
