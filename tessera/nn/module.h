// nn::Module (MLX's mlx.nn.Module): a named store of parameters and child modules with tree views,
// update, freezing, train/eval mode and weight loading.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "tessera/array.h"
#include "tessera/tree.h"

namespace tessera::nn {

class Module;
using ModulePtr = std::shared_ptr<Module>;
using NamedModules = std::vector<std::pair<std::string, Module*>>;

// Subclasses (C++ or, through bindings, Python) register arrays and child modules under attribute
// names; the entries keep their insertion order. Names starting with "_" are stored but are not
// parameters (as MLX skips private attributes).
class Module {
 public:
  // An entry: an array, a child module, or a list of child modules (e.g. Sequential's "layers").
  using Entry = std::variant<array, ModulePtr, std::vector<ModulePtr>>;

  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The type name used in messages (e.g. "Linear").
  virtual std::string name() const { return "Module"; }
  // One-input forward pass; modules with other signatures throw "[Module] ...".
  virtual array operator()(const array& x);

  // Registration (replaces an entry of the same name in place).
  void register_array(const std::string& name, const array& a);
  void register_module(const std::string& name, ModulePtr m);
  void register_modules(const std::string& name, std::vector<ModulePtr> ms);
  bool contains(const std::string& name) const;
  void erase(const std::string& name);
  const std::vector<std::pair<std::string, Entry>>& entries() const { return entries_; }
  // The array / module registered under name; throws std::out_of_range "[Module] ..." otherwise.
  array get_array(const std::string& name) const;
  ModulePtr get_module(const std::string& name) const;

  // All parameters as a tree {"name": array, "child": {...}, "layers": [{...}, ...]}.
  Tree parameters() const;
  // Parameters not frozen.
  Tree trainable_parameters() const;
  // Immediate children with their names ("layers.0" for list members).
  std::vector<std::pair<std::string, ModulePtr>> children() const;
  // This module ("") and all descendants with dotted names, pre-order.
  NamedModules named_modules();
  // Descendants that have no children (this module itself when it has none).
  NamedModules leaf_modules();
  // fn(name, module) on every module of named_modules().
  Module& apply_to_modules(const std::function<void(const std::string&, Module&)>& fn);
  // Replaces every parameter p by fn(p) (e.g. a dtype cast).
  Module& apply(const std::function<array(const array&)>& fn);

  // Replaces parameters from a (partial) tree. strict: unknown names or non-array values for array
  // entries throw std::invalid_argument "[Module] ...".
  Module& update(const Tree& parameters, bool strict = true);
  Module& update(const FlatTree& parameters, bool strict = true);

  // Freezes parameters (all, or only the local names in keys) of this module and, with recurse, of
  // every descendant. strict: a key that a module lacks throws "[Module] ...".
  Module& freeze(bool recurse = true, const std::optional<std::vector<std::string>>& keys = std::nullopt,
                 bool strict = false);
  Module& unfreeze(bool recurse = true, const std::optional<std::vector<std::string>>& keys = std::nullopt,
                   bool strict = false);
  const std::set<std::string>& frozen_keys() const { return no_grad_; }

  // Training mode of this module and all descendants.
  Module& train(bool mode = true);
  Module& eval() { return train(false); }
  bool training() const { return training_; }

  // Loads (name, array) pairs. strict: every parameter must be given with its shape and nothing else,
  // else std::invalid_argument "[Module] ...".
  Module& load_weights(const FlatTree& weights, bool strict = true);
  // Through the file formats of nn/weights_io.h (by extension: .safetensors, .npz).
  Module& load_weights(const std::string& path, bool strict = true);
  void save_weights(const std::string& path) const;

 protected:
  bool training_{true};

 private:
  Entry* find(const std::string& name);
  const Entry* find(const std::string& name) const;
  Tree filtered_parameters(bool trainable_only) const;
  void freeze_impl(bool recurse, const std::optional<std::vector<std::string>>& keys, bool strict, bool freeze);

  std::vector<std::pair<std::string, Entry>> entries_;
  std::set<std::string> no_grad_;  // frozen local parameter names
};

}  // namespace tessera::nn
