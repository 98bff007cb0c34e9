// Adam, AdamW and Adamax update rules.
#include "tessera/optimizers/adam.h"

#include <cmath>
#include <stdexcept>

#include "tessera/ops.h"

namespace tessera::optimizers {

Adam::Adam(LearningRate learning_rate, std::pair<float, float> betas, float eps, bool bias_correction)
    : Optimizer(std::move(learning_rate)), b1_(betas.first), b2_(betas.second), eps_(eps),
      bias_correction_(bias_correction) {
  if (eps < 0.0f) throw std::invalid_argument("[optimizers] eps must be non-negative.");
}

void Adam::init_single(const array& parameter, Tree& state) {
  state["m"] = zeros_like(parameter);
  state["v"] = zeros_like(parameter);
}

array Adam::apply_single(const array& gradient, const array& parameter, Tree& state) {
  Dtype d = parameter.dtype();
  auto m = add(multiply(array(b1_, d), state["m"].as_array()), multiply(array(1.0f - b1_, d), gradient));
  auto v = add(multiply(array(b2_, d), state["v"].as_array()), multiply(array(1.0f - b2_, d), square(gradient)));
  state["m"] = m;
  state["v"] = v;
  if (bias_correction_) {
    double t = step();
    double c1 = current_lr() / (1.0 - std::pow(static_cast<double>(b1_), t));
    double c2 = 1.0 / std::sqrt(1.0 - std::pow(static_cast<double>(b2_), t));
    auto num = multiply(array(c1, d), m);
    auto den = add(multiply(sqrt(v), array(c2, d)), array(eps_, d));
    return subtract(parameter, divide(num, den));
  }
  return subtract(parameter, divide(multiply(lr(d), m), add(sqrt(v), array(eps_, d))));
}

AdamW::AdamW(LearningRate learning_rate, std::pair<float, float> betas, float eps, float weight_decay,
             bool bias_correction)
    : Adam(std::move(learning_rate), betas, eps, bias_correction), weight_decay_(weight_decay) {}

array AdamW::apply_single(const array& gradient, const array& parameter, Tree& state) {
  Dtype d = parameter.dtype();
  auto decayed = multiply(parameter, subtract(array(1.0f, d), multiply(lr(d), array(weight_decay_, d))));
  return Adam::apply_single(gradient, decayed, state);
}

Adamax::Adamax(LearningRate learning_rate, std::pair<float, float> betas, float eps)
    : Adam(std::move(learning_rate), betas, eps, false) {}

array Adamax::apply_single(const array& gradient, const array& parameter, Tree& state) {
  Dtype d = parameter.dtype();
  auto m = add(multiply(array(b1_, d), state["m"].as_array()), multiply(array(1.0f - b1_, d), gradient));
  auto v = maximum(multiply(array(b2_, d), state["v"].as_array()), abs(gradient));
  state["m"] = m;
  state["v"] = v;
  return subtract(parameter, divide(multiply(lr(d), m), add(v, array(eps_, d))));
}

}  // namespace tessera::optimizers
