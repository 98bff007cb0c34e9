// SGD update rule.
#include "tessera/optimizers/sgd.h"

#include <stdexcept>

#include "tessera/ops.h"

namespace tessera::optimizers {

SGD::SGD(LearningRate learning_rate, float momentum, float weight_decay, float dampening, bool nesterov)
    : Optimizer(std::move(learning_rate)),
      momentum_(momentum),
      weight_decay_(weight_decay),
      dampening_(dampening),
      nesterov_(nesterov) {
  if (nesterov && (momentum <= 0.0f || dampening != 0.0f)) {
    throw std::invalid_argument("[optimizers] Nesterov momentum requires a momentum and zero dampening.");
  }
}

void SGD::init_single(const array& parameter, Tree& state) { state["v"] = zeros_like(parameter); }

array SGD::apply_single(const array& gradient, const array& parameter, Tree& state) {
  Dtype d = parameter.dtype();
  array g = gradient;
  if (weight_decay_ != 0.0f) g = add(g, multiply(array(weight_decay_, d), parameter));
  if (momentum_ <= 0.0f) return subtract(parameter, multiply(lr(d), g));
  array v = multiply(array(momentum_, d), state["v"].as_array());
  if (dampening_ > 0.0f) v = add(v, multiply(array(1.0f - dampening_, d), g));
  else v = add(v, g);
  array upd = nesterov_ ? add(g, multiply(array(momentum_, d), v)) : v;
  state["v"] = v;
  return subtract(parameter, multiply(lr(d), upd));
}

}  // namespace tessera::optimizers
