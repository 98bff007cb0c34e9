// SGD with momentum, dampening, Nesterov momentum and weight decay (MLX's mlx.optimizers.SGD).
#pragma once

#include "tessera/optimizers/optimizer.h"

namespace tessera::optimizers {

// g += wd p; without momentum p -= lr g; else v = momentum v + (1 - dampening) g,
// p -= lr (nesterov ? g + momentum v : v). State "v".
class SGD : public Optimizer {
 public:
  explicit SGD(LearningRate learning_rate, float momentum = 0.0f, float weight_decay = 0.0f, float dampening = 0.0f,
               bool nesterov = false);
  std::string name() const override { return "SGD"; }

 protected:
  void init_single(const array& parameter, Tree& state) override;
  array apply_single(const array& gradient, const array& parameter, Tree& state) override;

 private:
  float momentum_, weight_decay_, dampening_;
  bool nesterov_;
};

}  // namespace tessera::optimizers
