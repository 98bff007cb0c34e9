// Optimizer base: state bookkeeping, schedules, state trees; clip_grad_norm.
#include "tessera/optimizers/optimizer.h"

#include <stdexcept>

#include "tessera/ops.h"
#include "tessera/scheduler.h"

namespace tessera::optimizers {

float Optimizer::learning_rate() const {
  if (step_ > 0) return current_lr_;
  if (auto* f = std::get_if<float>(&lr_)) return *f;
  return std::get<Schedule>(lr_)(0);
}

Tree& Optimizer::state_for(const std::string& name, const array& parameter) {
  auto it = index_.find(name);
  if (it != index_.end()) return param_state_[it->second].second;
  Tree st = Tree::dict();
  init_single(parameter, st);
  index_[name] = param_state_.size();
  param_state_.emplace_back(name, std::move(st));
  return param_state_.back().second;
}

void Optimizer::init(const Tree& parameters) {
  for (auto& [k, p] : tree_flatten(parameters)) state_for(k, p);
}

Tree Optimizer::apply_gradients(const Tree& gradients, const Tree& parameters) {
  auto grads = tree_flatten(gradients);
  std::map<std::string, array> params;
  for (auto& [k, p] : tree_flatten(parameters)) params.emplace(k, p);
  for (auto& [k, g] : grads) {
    if (!params.count(k)) throw std::invalid_argument("[optimizers] gradient \"" + k + "\" has no parameter.");
    if (params.at(k).shape() != g.shape()) {
      throw std::invalid_argument("[optimizers] gradient \"" + k + "\" has shape " + shape_str(g.shape()) +
                                  " but its parameter " + shape_str(params.at(k).shape()) + ".");
    }
  }
  if (auto* f = std::get_if<float>(&lr_)) current_lr_ = *f;
  else current_lr_ = std::get<Schedule>(lr_)(step_);
  ++step_;
  FlatTree out;
  for (auto& [k, g] : grads) {
    const array& p = params.at(k);
    out.emplace_back(k, apply_single(g, p, state_for(k, p)));
  }
  if (gradients.is_array()) return Tree(out[0].second);  // a single array (flattened name "")
  return tree_unflatten(out);
}

void Optimizer::update(nn::Module& model, const Tree& gradients) {
  model.update(apply_gradients(gradients, model.parameters()));
}

Tree Optimizer::state() const {
  FlatTree flat;
  flat.emplace_back("step", array(step_, int32));
  flat.emplace_back("learning_rate", array(learning_rate(), float32));
  for (auto& [name, st] : param_state_) {
    for (auto& [k, a] : tree_flatten(st)) flat.emplace_back(name + "." + k, a);
  }
  return tree_unflatten(flat);
}

void Optimizer::set_state(const Tree& state) {
  if (!state.is_dict()) throw std::invalid_argument("[optimizers] state must be a dict.");
  param_state_.clear();
  index_.clear();
  for (auto& [key, a] : tree_flatten(state)) {
    if (key == "step") {
      step_ = array(a).item<int>();
    } else if (key == "learning_rate") {
      current_lr_ = array(a).item<float>();
      if (std::holds_alternative<float>(lr_)) lr_ = current_lr_;
    } else {
      auto dot = key.rfind('.');
      if (dot == std::string::npos) throw std::invalid_argument("[optimizers] unexpected state entry \"" + key + "\".");
      std::string name = key.substr(0, dot), field = key.substr(dot + 1);
      auto it = index_.find(name);
      if (it == index_.end()) {
        index_[name] = param_state_.size();
        param_state_.emplace_back(name, Tree::dict());
        it = index_.find(name);
      }
      param_state_[it->second].second[field] = Tree(a);
    }
  }
}

std::vector<array> Optimizer::state_arrays() const {
  std::vector<array> out;
  for (auto& [name, st] : param_state_) {
    for (auto& [k, a] : tree_flatten(st)) out.push_back(a);
  }
  return out;
}

std::pair<Tree, array> clip_grad_norm(const Tree& grads, float max_norm) {
  auto flat = tree_flatten(grads);
  array sq = array(0.0f);
  for (auto& [k, g] : flat) sq = add(sq, sum(square(astype(g, float32))));
  auto total = sqrt(sq);
  auto normalizer = divide(array(max_norm), add(total, array(1e-6f)));
  auto keep = less(total, array(max_norm));
  auto clipped = tree_map(
      [&](const array& g) { return where(keep, g, astype(multiply(g, astype(normalizer, g.dtype())), g.dtype())); },
      grads);
  return {clipped, total};
}

}  // namespace tessera::optimizers
