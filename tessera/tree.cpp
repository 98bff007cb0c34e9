// Trees of arrays: accessors, flatten/unflatten with dotted keys, maps.
#include "tessera/tree.h"

#include <algorithm>
#include <map>
#include <stdexcept>

namespace tessera {

namespace {
const char* kind_name(const Tree& t) {
  if (t.is_none()) return "None";
  if (t.is_array()) return "array";
  if (t.is_list()) return "list";
  return "dict";
}
[[noreturn]] void wrong_kind(const Tree& t, const char* want) {
  throw std::invalid_argument(std::string("[tree] expected a ") + want + " node, got " + kind_name(t) + ".");
}
}  // namespace

array& Tree::as_array() {
  if (!is_array()) wrong_kind(*this, "array");
  return std::get<1>(v_);
}
const array& Tree::as_array() const {
  if (!is_array()) wrong_kind(*this, "array");
  return std::get<1>(v_);
}
Tree::List& Tree::as_list() {
  if (!is_list()) wrong_kind(*this, "list");
  return std::get<2>(v_);
}
const Tree::List& Tree::as_list() const {
  if (!is_list()) wrong_kind(*this, "list");
  return std::get<2>(v_);
}
Tree::Dict& Tree::as_dict() {
  if (!is_dict()) wrong_kind(*this, "dict");
  return std::get<3>(v_);
}
const Tree::Dict& Tree::as_dict() const {
  if (!is_dict()) wrong_kind(*this, "dict");
  return std::get<3>(v_);
}

bool Tree::contains(const std::string& key) const {
  if (!is_dict()) return false;
  for (auto& [k, v] : as_dict()) {
    if (k == key) return true;
  }
  return false;
}
Tree& Tree::at(const std::string& key) {
  for (auto& [k, v] : as_dict()) {
    if (k == key) return v;
  }
  throw std::out_of_range("[tree] no key \"" + key + "\".");
}
const Tree& Tree::at(const std::string& key) const { return const_cast<Tree*>(this)->at(key); }
Tree& Tree::operator[](const std::string& key) {
  if (is_none()) v_ = Dict{};
  auto& d = as_dict();
  for (auto& [k, v] : d) {
    if (k == key) return v;
  }
  d.emplace_back(key, Tree());
  return d.back().second;
}
Tree& Tree::at(size_t i) {
  auto& l = as_list();
  if (i >= l.size()) {
    throw std::out_of_range("[tree] index " + std::to_string(i) + " out of a list of " + std::to_string(l.size()) + ".");
  }
  return l[i];
}
const Tree& Tree::at(size_t i) const { return const_cast<Tree*>(this)->at(i); }
size_t Tree::size() const {
  if (is_list()) return as_list().size();
  if (is_dict()) return as_dict().size();
  return is_array() ? 1 : 0;
}

namespace {
void flatten_into(const Tree& t, const std::string& prefix, FlatTree& out) {
  auto join = [&](const std::string& k) { return prefix.empty() ? k : prefix + "." + k; };
  if (t.is_array()) {
    out.emplace_back(prefix, t.as_array());
  } else if (t.is_list()) {
    const auto& l = t.as_list();
    for (size_t i = 0; i < l.size(); ++i) flatten_into(l[i], join(std::to_string(i)), out);
  } else if (t.is_dict()) {
    for (const auto& [k, v] : t.as_dict()) flatten_into(v, join(k), out);
  }
}

bool is_index(const std::string& s) {
  return !s.empty() && s.size() < 10 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Builds a dict from (key path, array) pairs, then turns all-integer levels into lists.
Tree listify(Tree t) {
  if (!t.is_dict()) return t;
  auto& d = t.as_dict();
  for (auto& [k, v] : d) v = listify(std::move(v));
  bool all_idx = !d.empty() && std::all_of(d.begin(), d.end(), [](auto& kv) { return is_index(kv.first); });
  if (!all_idx) return t;
  std::map<size_t, Tree*> by_index;
  for (auto& [k, v] : d) by_index[std::stoul(k)] = &v;
  if (by_index.rbegin()->first > 4 * by_index.size() + 1024) {
    throw std::invalid_argument("[tree_unflatten] list index " + std::to_string(by_index.rbegin()->first) +
                                " is too sparse.");
  }
  // Missing indices become empty dicts (as MLX: e.g. layers without parameters).
  Tree::List l;
  for (auto& [i, v] : by_index) {
    while (l.size() < i) l.push_back(Tree::dict());
    l.push_back(std::move(*v));
  }
  return Tree(std::move(l));
}
}  // namespace

FlatTree tree_flatten(const Tree& tree, const std::string& prefix) {
  FlatTree out;
  flatten_into(tree, prefix, out);
  return out;
}

Tree tree_unflatten(const FlatTree& flat) {
  Tree root = Tree::dict();
  for (const auto& [key, a] : flat) {
    Tree* node = &root;
    size_t start = 0;
    while (true) {
      size_t dot = key.find('.', start);
      std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      if (part.empty()) throw std::invalid_argument("[tree_unflatten] empty key component in \"" + key + "\".");
      if (!node->is_dict() && !node->is_none()) {
        throw std::invalid_argument("[tree_unflatten] key \"" + key + "\" nests under an array.");
      }
      node = &(*node)[part];
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    if (!node->is_none()) throw std::invalid_argument("[tree_unflatten] key \"" + key + "\" given twice or nests.");
    *node = Tree(a);
  }
  return listify(std::move(root));
}

Tree tree_map(const std::function<array(const array&)>& fn, const Tree& tree) {
  if (tree.is_array()) return Tree(fn(tree.as_array()));
  if (tree.is_list()) {
    Tree::List l;
    for (const auto& t : tree.as_list()) l.push_back(tree_map(fn, t));
    return Tree(std::move(l));
  }
  if (tree.is_dict()) {
    Tree::Dict d;
    for (const auto& [k, v] : tree.as_dict()) d.emplace_back(k, tree_map(fn, v));
    return Tree(std::move(d));
  }
  return Tree();
}

Tree tree_map(const std::function<array(const array&, const array&)>& fn, const Tree& a, const Tree& b) {
  if (a.is_array()) {
    if (!b.is_array()) throw std::invalid_argument("[tree_map] second tree has no array where the first has one.");
    return Tree(fn(a.as_array(), b.as_array()));
  }
  if (a.is_list()) {
    if (!b.is_list() || b.size() < a.size()) throw std::invalid_argument("[tree_map] trees differ in structure.");
    Tree::List l;
    for (size_t i = 0; i < a.size(); ++i) l.push_back(tree_map(fn, a.at(i), b.at(i)));
    return Tree(std::move(l));
  }
  if (a.is_dict()) {
    if (!b.is_dict()) throw std::invalid_argument("[tree_map] trees differ in structure.");
    Tree::Dict d;
    for (const auto& [k, v] : a.as_dict()) {
      if (!b.contains(k)) throw std::invalid_argument("[tree_map] second tree lacks key \"" + k + "\".");
      d.emplace_back(k, tree_map(fn, v, b.at(k)));
    }
    return Tree(std::move(d));
  }
  return Tree();
}

void tree_visit(const std::function<void(const std::string&, const array&)>& fn, const Tree& tree) {
  for (const auto& [k, a] : tree_flatten(tree)) fn(k, a);
}

}  // namespace tessera
