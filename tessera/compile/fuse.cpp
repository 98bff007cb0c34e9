// compile's fusion: chains of elementwise ops whose intermediates have one consumer become one
// Compiled node (inputs: the chain's external operands, output: the chain's root). CPU chains:
// float32; GPU chains (when NVRTC is available): float32, float16 or bfloat16, rank <= 8.
#include <algorithm>
#include <unordered_map>

#include "tessera/backend/gpu.h"
#include "tessera/compile/compiled.h"
#include "tessera/compile/tape.h"

namespace tessera::detail {

size_t fuse_tape(Tape& t) {
  const int nv = t.num_values;
  std::vector<int> uses(nv, 0), producer(nv, -1);
  std::vector<Dtype> dtype(nv, float32);
  for (auto& [s, c] : t.constants) dtype[s] = c.dtype();
  for (size_t i = 0; i < t.inputs.size(); ++i) dtype[t.inputs[i]] = t.input_dtypes[i];
  for (size_t i = 0; i < t.nodes.size(); ++i) {
    auto& n = t.nodes[i];
    for (int in : n.inputs) ++uses[in];
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      producer[n.outputs[k]] = static_cast<int>(i);
      dtype[n.outputs[k]] = n.dtypes[k];
    }
  }
  for (int o : t.outputs) uses[o] += 2;  // a function output is never folded into a chain

  std::vector<FusedOp> ops(t.nodes.size());
  std::vector<char> fusable(t.nodes.size(), 0);
  int gpu_jit = -1;  // unknown until a GPU candidate shows up (NVRTC is opened only then)
  for (size_t i = 0; i < t.nodes.size(); ++i) {
    auto& n = t.nodes[i];
    if (n.outputs.size() != 1 || !fused_op_of(*n.prim, ops[i])) continue;
    const Dtype d = n.dtypes[0];
    const auto dev = n.prim->device().type;
    bool ok = dev == Device::cpu && d == float32;
    if (dev == Device::gpu && (d == float32 || d == float16 || d == bfloat16) && n.shapes[0].size() <= 8) {
      if (gpu_jit < 0) gpu_jit = gpu::jit_available() ? 1 : 0;
      ok = gpu_jit == 1;
    }
    if (!ok) continue;
    for (int in : n.inputs) ok &= dtype[in] == d;
    fusable[i] = ok;
  }

  std::vector<char> absorbed(t.nodes.size(), 0);
  std::vector<std::pair<size_t, TapeNode>> replacements;
  for (size_t r = t.nodes.size(); r-- > 0;) {
    if (!fusable[r] || absorbed[r]) continue;
    const Shape& shape = t.nodes[r].shapes[0];
    std::vector<size_t> group{r}, stack{r};
    while (!stack.empty()) {
      size_t i = stack.back();
      stack.pop_back();
      for (int in : t.nodes[i].inputs) {
        int p = producer[in];
        if (p < 0 || !fusable[p] || absorbed[p] || uses[in] != 1 || t.nodes[p].shapes[0] != shape) continue;
        if (!(t.nodes[p].prim->device() == t.nodes[r].prim->device())) continue;
        if (std::find(group.begin(), group.end(), static_cast<size_t>(p)) != group.end()) continue;
        group.push_back(p);
        stack.push_back(p);
      }
    }
    if (group.size() < 2) continue;
    std::sort(group.begin(), group.end());
    std::unordered_map<int, int> operand;  // slot -> operand index
    std::vector<int> ext;
    for (size_t i : group) {
      for (int in : t.nodes[i].inputs) {
        int p = producer[in];
        bool inside = p >= 0 && std::binary_search(group.begin(), group.end(), static_cast<size_t>(p));
        if (!inside && !operand.count(in)) {
          operand[in] = static_cast<int>(ext.size());
          ext.push_back(in);
        }
      }
    }
    const int nin = static_cast<int>(ext.size());
    std::vector<FusedInstr> instrs;
    for (size_t k = 0; k < group.size(); ++k) {
      auto& n = t.nodes[group[k]];
      FusedInstr fi;
      fi.op = ops[group[k]];
      fi.prim = n.prim;
      fi.a = operand.at(n.inputs[0]);
      if (n.inputs.size() > 1) fi.b = operand.at(n.inputs[1]);
      instrs.push_back(std::move(fi));
      operand[n.outputs[0]] = nin + static_cast<int>(k);
      absorbed[group[k]] = 1;
    }
    TapeNode fused;
    fused.prim = std::make_shared<Compiled>(t.nodes[r].prim->stream(), nin, std::move(instrs));
    fused.inputs = ext;
    fused.outputs = t.nodes[r].outputs;
    fused.shapes = t.nodes[r].shapes;
    fused.dtypes = t.nodes[r].dtypes;
    replacements.emplace_back(r, std::move(fused));
  }
  if (replacements.empty()) return 0;
  std::unordered_map<size_t, TapeNode*> at;
  for (auto& [r, n] : replacements) at[r] = &n;
  std::vector<TapeNode> nodes;
  for (size_t i = 0; i < t.nodes.size(); ++i) {
    auto it = at.find(i);
    if (it != at.end()) nodes.push_back(std::move(*it->second));
    else if (!absorbed[i]) nodes.push_back(std::move(t.nodes[i]));
  }
  t.nodes = std::move(nodes);
  return replacements.size();
}

}  // namespace tessera::detail
