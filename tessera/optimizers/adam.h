// Adam-family optimizers (MLX): Adam, AdamW, Adamax.
#pragma once

#include <utility>

#include "tessera/optimizers/optimizer.h"

namespace tessera::optimizers {

// m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; p -= lr m / (sqrt(v) + eps). With bias_correction:
// p -= (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps). State "m", "v".
class Adam : public Optimizer {
 public:
  explicit Adam(LearningRate learning_rate, std::pair<float, float> betas = {0.9f, 0.999f}, float eps = 1e-8f,
                bool bias_correction = false);
  std::string name() const override { return "Adam"; }

 protected:
  void init_single(const array& parameter, Tree& state) override;
  array apply_single(const array& gradient, const array& parameter, Tree& state) override;

  float b1_, b2_, eps_;
  bool bias_correction_;
};

// Adam on p (1 - lr weight_decay) (decoupled weight decay).
class AdamW : public Adam {
 public:
  explicit AdamW(LearningRate learning_rate, std::pair<float, float> betas = {0.9f, 0.999f}, float eps = 1e-8f,
                 float weight_decay = 0.01f, bool bias_correction = false);
  std::string name() const override { return "AdamW"; }

 protected:
  array apply_single(const array& gradient, const array& parameter, Tree& state) override;

 private:
  float weight_decay_;
};

// m = b1 m + (1 - b1) g; v = max(b2 v, |g|); p -= lr m / (v + eps).
class Adamax : public Adam {
 public:
  explicit Adamax(LearningRate learning_rate, std::pair<float, float> betas = {0.9f, 0.999f}, float eps = 1e-8f);
  std::string name() const override { return "Adamax"; }

 protected:
  array apply_single(const array& gradient, const array& parameter, Tree& state) override;
};

}  // namespace tessera::optimizers
