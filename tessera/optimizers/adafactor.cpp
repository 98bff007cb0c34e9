// Adafactor update rule.
#include "tessera/optimizers/adafactor.h"

#include <cmath>
#include <stdexcept>

#include "tessera/ops.h"

namespace tessera::optimizers {

Adafactor::Adafactor(std::optional<float> learning_rate, std::pair<float, float> eps, float clip_threshold,
                     float decay_rate, std::optional<float> beta_1, float weight_decay, bool scale_parameter,
                     bool relative_step, bool warmup_init)
    : Optimizer(learning_rate.value_or(0.0f)),
      eps_(eps),
      clip_threshold_(clip_threshold),
      decay_rate_(decay_rate),
      beta_1_(beta_1),
      weight_decay_(weight_decay),
      scale_parameter_(scale_parameter),
      relative_step_(relative_step),
      warmup_init_(warmup_init) {
  if (!learning_rate && !relative_step) {
    throw std::invalid_argument("[optimizers] Adafactor needs a learning rate or relative_step.");
  }
}

void Adafactor::init_single(const array& parameter, Tree& state) {
  if (parameter.ndim() >= 2) {
    Shape row(parameter.shape().begin(), parameter.shape().end() - 1);
    Shape col(parameter.shape().begin(), parameter.shape().end() - 2);
    col.push_back(parameter.shape().back());
    state["exp_avg_sq_row"] = zeros(row, parameter.dtype());
    state["exp_avg_sq_col"] = zeros(col, parameter.dtype());
  } else {
    state["exp_avg_sq"] = zeros_like(parameter);
  }
  if (beta_1_) state["exp_avg"] = zeros_like(parameter);
}

array Adafactor::apply_single(const array& gradient, const array& parameter, Tree& state) {
  Dtype d = parameter.dtype();
  auto rms = [](const array& x) { return sqrt(mean(square(x))); };
  double t = step();
  auto param_rms = rms(parameter);
  double rel = relative_step_ ? std::min(warmup_init_ ? 1e-6 * t : 1e-2, 1.0 / std::sqrt(t)) : current_lr();
  array lr_t = array(rel, d);
  if (scale_parameter_) lr_t = multiply(maximum(array(eps_.second, d), param_rms), lr_t);
  double beta2 = 1.0 - std::pow(t, static_cast<double>(decay_rate_));
  auto b2 = array(beta2, d), one_b2 = array(1.0 - beta2, d);
  auto upd = add(square(gradient), array(eps_.first, d));
  if (gradient.ndim() >= 2) {
    auto row = add(multiply(b2, state["exp_avg_sq_row"].as_array()), multiply(one_b2, mean(upd, -1)));
    auto col = add(multiply(b2, state["exp_avg_sq_col"].as_array()), multiply(one_b2, mean(upd, -2)));
    state["exp_avg_sq_row"] = row;
    state["exp_avg_sq_col"] = col;
    auto r_factor = rsqrt(divide(row, mean(row, -1, true)));
    auto c_factor = rsqrt(col);
    upd = multiply(multiply(expand_dims(r_factor, -1), expand_dims(c_factor, -2)), gradient);
  } else {
    auto v = add(multiply(b2, state["exp_avg_sq"].as_array()), multiply(one_b2, upd));
    state["exp_avg_sq"] = v;
    upd = multiply(rsqrt(v), gradient);
  }
  upd = divide(upd, maximum(array(1.0f, d), divide(rms(upd), array(clip_threshold_, d))));
  upd = multiply(lr_t, upd);
  if (beta_1_) {
    auto b1 = *beta_1_;
    auto ea = add(multiply(array(b1, d), state["exp_avg"].as_array()), multiply(array(1.0f - b1, d), upd));
    state["exp_avg"] = ea;
    upd = ea;
  }
  array p = parameter;
  if (weight_decay_ != 0.0f) p = add(p, multiply(p, multiply(array(-weight_decay_, d), lr_t)));
  return subtract(p, upd);
}

}  // namespace tessera::optimizers
