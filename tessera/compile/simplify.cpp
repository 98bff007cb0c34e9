// compile's graph simplification: merge equal constant scalars, common-subexpression elimination
// (equivalent primitives applied to identical inputs), and dropping nodes no output needs.
#include <cstring>
#include <map>
#include <typeinfo>

#include "tessera/compile/tape.h"

namespace tessera::detail {

namespace {

// Slot renaming with path compression.
struct Renames {
  std::vector<int> to;
  explicit Renames(int n) : to(n) {
    for (int i = 0; i < n; ++i) to[i] = i;
  }
  int find(int v) { return to[v] == v ? v : (to[v] = find(to[v])); }
};

void merge_scalar_constants(Tape& t, Renames& r) {
  std::vector<std::pair<int, array>> kept;
  for (auto& [s, c] : t.constants) {
    bool merged = false;
    if (c.size() == 1) {
      for (auto& [ks, k] : kept) {
        if (k.size() == 1 && k.dtype() == c.dtype() && k.shape() == c.shape() &&
            std::memcmp(k.raw_data(), c.raw_data(), c.itemsize()) == 0) {
          r.to[s] = ks;
          merged = true;
          break;
        }
      }
    }
    if (!merged) kept.emplace_back(s, c);
  }
  t.constants = std::move(kept);
}

}  // namespace

void simplify_tape(Tape& t) {
  Renames r(t.num_values);
  merge_scalar_constants(t, r);
  // CSE: nodes keyed by (primitive type, renamed inputs); a later node equal to an earlier one
  // reuses its outputs.
  std::map<std::pair<const std::type_info*, std::vector<int>>, std::vector<size_t>, 
           bool (*)(const std::pair<const std::type_info*, std::vector<int>>&,
                    const std::pair<const std::type_info*, std::vector<int>>&)>
      seen([](const auto& a, const auto& b) {
        if (a.first != b.first) return a.first->before(*b.first);
        return a.second < b.second;
      });
  std::vector<TapeNode> kept;
  for (auto& n : t.nodes) {
    for (auto& in : n.inputs) in = r.find(in);
    auto key = std::make_pair(&typeid(*n.prim), n.inputs);
    auto& cands = seen[key];
    bool merged = false;
    for (size_t k : cands) {
      auto& m = kept[k];
      if (m.outputs.size() == n.outputs.size() && m.shapes == n.shapes && m.dtypes == n.dtypes &&
          (m.prim == n.prim || m.prim->is_equivalent(*n.prim))) {
        for (size_t i = 0; i < n.outputs.size(); ++i) r.to[n.outputs[i]] = m.outputs[i];
        merged = true;
        break;
      }
    }
    if (merged) continue;
    cands.push_back(kept.size());
    kept.push_back(std::move(n));
  }
  for (auto& o : t.outputs) o = r.find(o);
  // Dead nodes (and constants) no output needs.
  std::vector<char> live(t.num_values, 0);
  for (int o : t.outputs) live[o] = 1;
  std::vector<TapeNode> alive;
  for (auto it = kept.rbegin(); it != kept.rend(); ++it) {
    bool used = false;
    for (int o : it->outputs) used |= live[o] != 0;
    if (!used) continue;
    for (int in : it->inputs) live[in] = 1;
    alive.push_back(std::move(*it));
  }
  t.nodes.assign(std::make_move_iterator(alive.rbegin()), std::make_move_iterator(alive.rend()));
  std::vector<std::pair<int, array>> consts;
  for (auto& c : t.constants) {
    if (live[c.first]) consts.push_back(std::move(c));
  }
  t.constants = std::move(consts);
}

}  // namespace tessera::detail
