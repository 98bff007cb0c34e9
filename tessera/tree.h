// Trees of arrays (MLX's mlx.utils): nested lists and string-keyed dicts, flattening with dotted keys, maps.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "tessera/array.h"

namespace tessera {

// A node of a tree: empty (None), an array, a list of trees, or a dict of trees whose keys keep their
// insertion order (as Python dicts do).
class Tree {
 public:
  using List = std::vector<Tree>;
  using Dict = std::vector<std::pair<std::string, Tree>>;

  Tree() = default;  // None
  Tree(const array& a) : v_(a) {}  // NOLINT
  Tree(List l) : v_(std::move(l)) {}  // NOLINT
  Tree(Dict d) : v_(std::move(d)) {}  // NOLINT
  static Tree list() { return Tree(List{}); }
  static Tree dict() { return Tree(Dict{}); }

  bool is_none() const { return v_.index() == 0; }
  bool is_array() const { return v_.index() == 1; }
  bool is_list() const { return v_.index() == 2; }
  bool is_dict() const { return v_.index() == 3; }

  // Accessors throw "[tree] ..." when the node has another kind.
  array& as_array();
  const array& as_array() const;
  List& as_list();
  const List& as_list() const;
  Dict& as_dict();
  const Dict& as_dict() const;

  // Dict access: `at` throws std::out_of_range for a missing key; operator[] inserts None.
  bool contains(const std::string& key) const;
  Tree& at(const std::string& key);
  const Tree& at(const std::string& key) const;
  Tree& operator[](const std::string& key);
  // List access (throws std::out_of_range).
  Tree& at(size_t i);
  const Tree& at(size_t i) const;
  size_t size() const;  // list/dict length; 1 for an array; 0 for None
  void push_back(Tree t) { as_list().push_back(std::move(t)); }

 private:
  std::variant<std::monostate, array, List, Dict> v_;
};

using FlatTree = std::vector<std::pair<std::string, array>>;

// (dotted key, array) pairs in depth-first order: {"layers": [{"weight": w}]} -> ("layers.0.weight", w).
// `prefix` is prepended as "prefix.key". None nodes are skipped.
FlatTree tree_flatten(const Tree& tree, const std::string& prefix = "");
// Inverse of tree_flatten: a dict whose levels with all-integer keys become lists (missing indices
// become empty dicts, as MLX). An empty list gives an empty dict. Throws "[tree_unflatten] ..." on
// conflicting or empty key components.
Tree tree_unflatten(const FlatTree& flat);

// A tree of the same structure with fn applied to every array.
Tree tree_map(const std::function<array(const array&)>& fn, const Tree& tree);
// fn(a, b) over two trees of the same structure (b may have extra dict keys); throws "[tree_map] ..."
// when b lacks a node of a.
Tree tree_map(const std::function<array(const array&, const array&)>& fn, const Tree& a, const Tree& b);
// Calls fn(key, array) on every leaf (dotted keys).
void tree_visit(const std::function<void(const std::string&, const array&)>& fn, const Tree& tree);

}  // namespace tessera
