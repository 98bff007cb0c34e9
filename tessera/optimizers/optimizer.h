// Optimizer base class (MLX's mlx.optimizers.Optimizer): per-parameter state, step counter, learning rate
// (a number or a schedule of the step), update of a model from a gradient tree; clip_grad_norm.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "tessera/nn/module.h"
#include "tessera/tree.h"

namespace tessera::optimizers {

// A schedule maps the step (0 for the first update) to a learning rate.
using Schedule = std::function<float(int step)>;
using LearningRate = std::variant<float, Schedule>;

class Optimizer {
 public:
  explicit Optimizer(LearningRate learning_rate) : lr_(std::move(learning_rate)) {}
  virtual ~Optimizer() = default;
  virtual std::string name() const = 0;

  // Creates the state of parameters that have none yet (apply_gradients does it lazily).
  void init(const Tree& parameters);
  // New values of the parameters that have gradients; the result has the gradients' structure.
  // Evaluates the schedule at the current step, then increments the step. A gradient without a
  // parameter of the same name throws "[optimizers] ...".
  Tree apply_gradients(const Tree& gradients, const Tree& parameters);
  // model.update(apply_gradients(gradients, model.parameters())).
  void update(nn::Module& model, const Tree& gradients);

  int step() const { return step_; }
  // The learning rate used by the last update (or the schedule at the current step before any).
  float learning_rate() const;
  void set_learning_rate(LearningRate lr) { lr_ = std::move(lr); }

  // {"step": int32 scalar, "learning_rate": float32 scalar, <parameter path>: {<state name>: array}}.
  Tree state() const;
  // Restores a tree made by state() (of an optimizer of the same kind).
  void set_state(const Tree& state);
  // All state arrays (to evaluate together with the parameters after an update).
  std::vector<array> state_arrays() const;

 protected:
  // state: a dict Tree of this parameter's state arrays.
  virtual void init_single(const array& parameter, Tree& state) = 0;
  virtual array apply_single(const array& gradient, const array& parameter, Tree& state) = 0;
  // The learning rate of the update in progress (as a scalar of dtype d).
  array lr(Dtype d) const { return array(current_lr_, d); }
  float current_lr() const { return current_lr_; }

 private:
  LearningRate lr_;
  float current_lr_{0.0f};
  int step_{0};
  std::vector<std::pair<std::string, Tree>> param_state_;  // by flattened parameter name
  std::map<std::string, size_t> index_;
  Tree& state_for(const std::string& name, const array& parameter);
};

// Scales all gradients by max_norm / (total_norm + 1e-6) when their global L2 norm is not below
// max_norm. Returns (clipped gradients, total norm).
std::pair<Tree, array> clip_grad_norm(const Tree& grads, float max_norm);

}  // namespace tessera::optimizers
