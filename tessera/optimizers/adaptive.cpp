// RMSprop, Adagrad and Lion update rules.
#include "tessera/optimizers/adaptive.h"

#include <stdexcept>

#include "tessera/ops.h"

namespace tessera::optimizers {

RMSprop::RMSprop(LearningRate learning_rate, float alpha, float eps)
    : Optimizer(std::move(learning_rate)), alpha_(alpha), eps_(eps) {
  if (alpha < 0.0f) throw std::invalid_argument("[optimizers] RMSprop alpha must be non-negative.");
  if (eps < 0.0f) throw std::invalid_argument("[optimizers] RMSprop eps must be non-negative.");
}
void RMSprop::init_single(const array& parameter, Tree& state) { state["v"] = zeros_like(parameter); }
array RMSprop::apply_single(const array& gradient, const array& parameter, Tree& state) {
  Dtype d = parameter.dtype();
  auto v = add(multiply(array(alpha_, d), state["v"].as_array()), multiply(array(1.0f - alpha_, d), square(gradient)));
  state["v"] = v;
  return subtract(parameter, divide(multiply(lr(d), gradient), add(sqrt(v), array(eps_, d))));
}

Adagrad::Adagrad(LearningRate learning_rate, float eps) : Optimizer(std::move(learning_rate)), eps_(eps) {
  if (eps < 0.0f) throw std::invalid_argument("[optimizers] Adagrad eps must be non-negative.");
}
void Adagrad::init_single(const array& parameter, Tree& state) { state["v"] = zeros_like(parameter); }
array Adagrad::apply_single(const array& gradient, const array& parameter, Tree& state) {
  Dtype d = parameter.dtype();
  auto v = add(state["v"].as_array(), square(gradient));
  state["v"] = v;
  return subtract(parameter, divide(multiply(lr(d), gradient), add(sqrt(v), array(eps_, d))));
}

Lion::Lion(LearningRate learning_rate, std::pair<float, float> betas, float weight_decay)
    : Optimizer(std::move(learning_rate)), b1_(betas.first), b2_(betas.second), weight_decay_(weight_decay) {}
void Lion::init_single(const array& parameter, Tree& state) { state["m"] = zeros_like(parameter); }
array Lion::apply_single(const array& gradient, const array& parameter, Tree& state) {
  Dtype d = parameter.dtype();
  auto m = state["m"].as_array();
  auto c = add(multiply(array(b1_, d), m), multiply(array(1.0f - b1_, d), gradient));
  state["m"] = add(multiply(array(b2_, d), m), multiply(array(1.0f - b2_, d), gradient));
  array p = parameter;
  if (weight_decay_ > 0.0f) p = multiply(subtract(array(1.0f, d), multiply(lr(d), array(weight_decay_, d))), p);
  return subtract(p, multiply(lr(d), sign(c)));
}

}  // namespace tessera::optimizers
