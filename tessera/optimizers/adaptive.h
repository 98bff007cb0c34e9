// Optimizers with per-element adaptive steps (MLX): RMSprop, Adagrad, Lion.
#pragma once

#include <utility>

#include "tessera/optimizers/optimizer.h"

namespace tessera::optimizers {

// v = alpha v + (1 - alpha) g^2; p -= lr g / (sqrt(v) + eps). State "v".
class RMSprop : public Optimizer {
 public:
  explicit RMSprop(LearningRate learning_rate, float alpha = 0.99f, float eps = 1e-8f);
  std::string name() const override { return "RMSprop"; }

 protected:
  void init_single(const array& parameter, Tree& state) override;
  array apply_single(const array& gradient, const array& parameter, Tree& state) override;

 private:
  float alpha_, eps_;
};

// v = v + g^2; p -= lr g / (sqrt(v) + eps). State "v".
class Adagrad : public Optimizer {
 public:
  explicit Adagrad(LearningRate learning_rate, float eps = 1e-8f);
  std::string name() const override { return "Adagrad"; }

 protected:
  void init_single(const array& parameter, Tree& state) override;
  array apply_single(const array& gradient, const array& parameter, Tree& state) override;

 private:
  float eps_;
};

// c = b1 m + (1 - b1) g; m = b2 m + (1 - b2) g; p = p (1 - lr wd) - lr sign(c). State "m".
class Lion : public Optimizer {
 public:
  explicit Lion(LearningRate learning_rate, std::pair<float, float> betas = {0.9f, 0.99f}, float weight_decay = 0.0f);
  std::string name() const override { return "Lion"; }

 protected:
  void init_single(const array& parameter, Tree& state) override;
  array apply_single(const array& gradient, const array& parameter, Tree& state) override;

 private:
  float b1_, b2_, weight_decay_;
};

}  // namespace tessera::optimizers
