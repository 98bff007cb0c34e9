// nn::Module: entry store, parameter trees, update, freeze, train/eval and weight loading.
#include "tessera/nn/module.h"

#include <map>
#include <stdexcept>

#include "tessera/nn/weights_io.h"
#include "tessera/ops/shape.h"

namespace tessera::nn {

namespace {
bool is_private(const std::string& name) { return !name.empty() && name[0] == '_'; }
}  // namespace

array Module::operator()(const array&) {
  throw std::invalid_argument("[Module] " + name() + " does not take a single input.");
}

Module::Entry* Module::find(const std::string& name) {
  for (auto& [k, v] : entries_) {
    if (k == name) return &v;
  }
  return nullptr;
}
const Module::Entry* Module::find(const std::string& name) const { return const_cast<Module*>(this)->find(name); }

void Module::register_array(const std::string& name, const array& a) {
  if (auto* e = find(name)) *e = a;
  else entries_.emplace_back(name, a);
}
void Module::register_module(const std::string& name, ModulePtr m) {
  if (!m) throw std::invalid_argument("[Module] cannot register a null module as \"" + name + "\".");
  if (auto* e = find(name)) *e = std::move(m);
  else entries_.emplace_back(name, std::move(m));
}
void Module::register_modules(const std::string& name, std::vector<ModulePtr> ms) {
  for (auto& m : ms) {
    if (!m) throw std::invalid_argument("[Module] cannot register a null module in \"" + name + "\".");
  }
  if (auto* e = find(name)) *e = std::move(ms);
  else entries_.emplace_back(name, std::move(ms));
}
bool Module::contains(const std::string& name) const { return find(name) != nullptr; }
void Module::erase(const std::string& name) {
  std::erase_if(entries_, [&](auto& kv) { return kv.first == name; });
  no_grad_.erase(name);
}

array Module::get_array(const std::string& name) const {
  auto* e = find(name);
  if (!e || !std::holds_alternative<array>(*e)) {
    throw std::out_of_range("[Module] " + this->name() + " has no array \"" + name + "\".");
  }
  return std::get<array>(*e);
}
ModulePtr Module::get_module(const std::string& name) const {
  auto* e = find(name);
  if (!e || !std::holds_alternative<ModulePtr>(*e)) {
    throw std::out_of_range("[Module] " + this->name() + " has no module \"" + name + "\".");
  }
  return std::get<ModulePtr>(*e);
}

Tree Module::filtered_parameters(bool trainable_only) const {
  Tree out = Tree::dict();
  for (const auto& [k, v] : entries_) {
    if (is_private(k)) continue;
    if (auto* a = std::get_if<array>(&v)) {
      if (trainable_only && no_grad_.count(k)) continue;
      out[k] = Tree(*a);
    } else if (auto* m = std::get_if<ModulePtr>(&v)) {
      out[k] = (*m)->filtered_parameters(trainable_only);
    } else {
      Tree::List l;
      for (auto& c : std::get<std::vector<ModulePtr>>(v)) l.push_back(c->filtered_parameters(trainable_only));
      out[k] = Tree(std::move(l));
    }
  }
  return out;
}
Tree Module::parameters() const { return filtered_parameters(false); }
Tree Module::trainable_parameters() const { return filtered_parameters(true); }

std::vector<std::pair<std::string, ModulePtr>> Module::children() const {
  std::vector<std::pair<std::string, ModulePtr>> out;
  for (const auto& [k, v] : entries_) {
    if (auto* m = std::get_if<ModulePtr>(&v)) {
      out.emplace_back(k, *m);
    } else if (auto* l = std::get_if<std::vector<ModulePtr>>(&v)) {
      for (size_t i = 0; i < l->size(); ++i) out.emplace_back(k + "." + std::to_string(i), (*l)[i]);
    }
  }
  return out;
}

NamedModules Module::named_modules() {
  NamedModules out{{"", this}};
  for (auto& [k, c] : children()) {
    for (auto& [sub, m] : c->named_modules()) out.emplace_back(sub.empty() ? k : k + "." + sub, m);
  }
  return out;
}

NamedModules Module::leaf_modules() {
  NamedModules out;
  for (auto& [k, m] : named_modules()) {
    if (m->children().empty()) out.emplace_back(k, m);
  }
  return out;
}

Module& Module::apply_to_modules(const std::function<void(const std::string&, Module&)>& fn) {
  for (auto& [k, m] : named_modules()) fn(k, *m);
  return *this;
}

Module& Module::apply(const std::function<array(const array&)>& fn) {
  return update(tree_map(fn, parameters()));
}

Module& Module::update(const Tree& parameters, bool strict) {
  if (parameters.is_none()) return *this;
  if (!parameters.is_dict()) {
    if (strict) throw std::invalid_argument("[Module] update of " + name() + " expects a dict of parameters.");
    return *this;
  }
  for (const auto& [k, v] : parameters.as_dict()) {
    auto* e = find(k);
    if (!e) {
      if (strict) throw std::invalid_argument("[Module] " + name() + " does not have parameter named \"" + k + "\".");
      continue;
    }
    if (auto* a = std::get_if<array>(e)) {
      if (v.is_array()) *a = v.as_array();
      else if (strict) throw std::invalid_argument("[Module] parameter \"" + k + "\" of " + name() + " needs an array.");
    } else if (auto* m = std::get_if<ModulePtr>(e)) {
      (*m)->update(v, strict);
    } else {
      auto& l = std::get<std::vector<ModulePtr>>(*e);
      if (!v.is_list()) {
        if (strict) throw std::invalid_argument("[Module] entry \"" + k + "\" of " + name() + " needs a list.");
        continue;
      }
      if (v.size() > l.size() && strict) {
        throw std::invalid_argument("[Module] entry \"" + k + "\" of " + name() + " has " + std::to_string(l.size()) +
                                    " modules, got " + std::to_string(v.size()) + " values.");
      }
      for (size_t i = 0; i < std::min(v.size(), l.size()); ++i) l[i]->update(v.at(i), strict);
    }
  }
  return *this;
}

Module& Module::update(const FlatTree& parameters, bool strict) { return update(tree_unflatten(parameters), strict); }

void Module::freeze_impl(bool recurse, const std::optional<std::vector<std::string>>& keys, bool strict,
                         bool freeze) {
  auto one = [&](const std::string&, Module& m) {
    std::vector<std::string> local;
    if (keys) {
      local = *keys;
    } else {
      for (auto& [k, v] : m.entries_) {
        if (!is_private(k) && std::holds_alternative<array>(v)) local.push_back(k);
      }
    }
    if (strict) {
      for (auto& k : local) {
        auto* e = m.find(k);
        if (!e || !std::holds_alternative<array>(*e) || is_private(k)) {
          throw std::invalid_argument("[Module] " + m.name() + " has no parameter named \"" + k + "\".");
        }
      }
    }
    if (freeze) {
      m.no_grad_.insert(local.begin(), local.end());
    } else if (!keys) {
      m.no_grad_.clear();
    } else {
      for (auto& k : local) m.no_grad_.erase(k);
    }
  };
  if (recurse) apply_to_modules(one);
  else one("", *this);
}

Module& Module::freeze(bool recurse, const std::optional<std::vector<std::string>>& keys, bool strict) {
  freeze_impl(recurse, keys, strict, true);
  return *this;
}
Module& Module::unfreeze(bool recurse, const std::optional<std::vector<std::string>>& keys, bool strict) {
  freeze_impl(recurse, keys, strict, false);
  return *this;
}

Module& Module::train(bool mode) {
  apply_to_modules([mode](const std::string&, Module& m) { m.training_ = mode; });
  return *this;
}

Module& Module::load_weights(const FlatTree& weights, bool strict) {
  if (strict) {
    std::map<std::string, const array*> given;
    for (auto& [k, a] : weights) given[k] = &a;
    auto current = tree_flatten(parameters());
    std::map<std::string, const array*> have;
    for (auto& [k, a] : current) have[k] = &a;
    std::string extra, missing;
    for (auto& [k, a] : given) {
      if (!have.count(k)) extra += (extra.empty() ? "" : ", ") + k;
    }
    if (!extra.empty()) throw std::invalid_argument("[Module] received parameters not in model: " + extra + ".");
    for (auto& [k, a] : have) {
      if (!given.count(k)) missing += (missing.empty() ? "" : ", ") + k;
    }
    if (!missing.empty()) throw std::invalid_argument("[Module] missing parameters: " + missing + ".");
    for (auto& [k, a] : have) {
      if (given[k]->shape() != a->shape()) {
        throw std::invalid_argument("[Module] expected shape " + shape_str(a->shape()) + " but received shape " +
                                    shape_str(given[k]->shape()) + " for parameter " + k + ".");
      }
    }
  }
  if (!weights.empty()) update(tree_unflatten(weights), false);
  return *this;
}

Module& Module::load_weights(const std::string& path, bool strict) {
  return load_weights(load_weights_file(path), strict);
}

void Module::save_weights(const std::string& path) const { save_weights_file(path, tree_flatten(parameters())); }

}  // namespace tessera::nn
