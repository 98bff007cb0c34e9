// Tracing for compile: run the function on placeholders and record its graph as a value-indexed tape.
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "tessera/compile/tape.h"

namespace tessera::detail {

namespace {
uintptr_t node_key(const array& a) { return a.sibling_position() == 0 ? a.id() : a.siblings()[0].id(); }
}  // namespace

Tape trace_tape(const std::function<std::vector<array>(const std::vector<array>&)>& fun,
                const std::vector<array>& inputs) {
  Tape t;
  std::unordered_map<uintptr_t, int> slot;  // array id -> value slot
  std::vector<array> placeholders;
  for (auto& in : inputs) {
    array p(in.shape(), in.dtype(), nullptr, {});  // never evaluated
    p.set_tracer(true);
    slot.emplace(p.id(), t.num_values);
    t.inputs.push_back(t.num_values++);
    t.input_dtypes.push_back(in.dtype());
    t.input_shapes.push_back(in.shape());
    placeholders.push_back(p);
  }
  auto outputs = fun(placeholders);

  auto is_leaf = [&](const array& a) { return !a.has_primitive() || a.is_available(); };
  auto leaf_slot = [&](const array& a) {
    auto it = slot.find(a.id());
    if (it != slot.end()) return it->second;
    if (!a.is_available()) {
      throw std::invalid_argument("[compile] The traced graph reads an array without data or a graph.");
    }
    int s = t.num_values++;
    slot.emplace(a.id(), s);
    t.constants.emplace_back(s, a);
    return s;
  };
  std::unordered_set<uintptr_t> visited;
  std::vector<std::pair<array, size_t>> stack;
  for (auto& out : outputs) {
    if (is_leaf(out) || visited.count(node_key(out))) continue;
    visited.insert(node_key(out));
    stack.emplace_back(out, 0);
    while (!stack.empty()) {
      auto& [node, i] = stack.back();
      if (i < node.inputs().size()) {
        array in = node.inputs()[i++];
        if (!is_leaf(in) && !visited.count(node_key(in))) {
          visited.insert(node_key(in));
          stack.emplace_back(std::move(in), 0);
        }
        continue;
      }
      TapeNode n;
      n.prim = node.primitive_ptr();
      for (auto& in : node.inputs()) {
        n.inputs.push_back(is_leaf(in) ? leaf_slot(in) : slot.at(in.id()));
      }
      for (auto& o : node.outputs()) {
        slot.emplace(o.id(), t.num_values);
        n.outputs.push_back(t.num_values++);
        n.shapes.push_back(o.shape());
        n.dtypes.push_back(o.dtype());
      }
      t.nodes.push_back(std::move(n));
      stack.pop_back();
    }
  }
  for (auto& out : outputs) t.outputs.push_back(is_leaf(out) ? leaf_slot(out) : slot.at(out.id()));
  return t;
}

}  // namespace tessera::detail
