// The transform engines: reverse (vjp) and forward (jvp) passes over the traced graph, vmap by
// replaying the graph with batched inputs, and the grad/checkpoint/custom_function wrappers.
#include "tessera/transforms.h"

#include <numeric>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "tessera/ops.h"
#include "tessera/primitive.h"
#include "tessera/transforms/rules_common.h"
#include "tessera/transforms/transform_primitives.h"

namespace tessera {

namespace {

// A node (a primitive application with all its sibling outputs) is keyed by its first output.
uintptr_t node_key(const array& a) {
  return a.sibling_position() == 0 ? a.id() : a.siblings()[0].id();
}

bool is_stop_gradient(const array& a) { return dynamic_cast<StopGradient*>(&a.primitive()) != nullptr; }

// The nodes between `leaves` and `outputs` that depend on a leaf, in topological order. Gradients stop
// at stop_gradient; vmap (through_stop_gradient) maps through it.
struct Tape {
  std::vector<array> nodes;
  std::unordered_set<uintptr_t> active;  // ids of leaves and of outputs of active nodes
  bool is_active(const array& a) const { return active.count(a.id()) > 0; }
};

Tape active_tape(const std::vector<array>& outputs, const std::vector<array>& leaves, bool through_stop_gradient = false) {
  Tape t;
  for (auto& l : leaves) t.active.insert(l.id());
  std::unordered_set<uintptr_t> visited;  // node keys
  std::vector<std::pair<array, size_t>> stack;
  auto should_visit = [&](const array& a) {
    return !t.active.count(a.id()) && a.has_primitive() && !visited.count(node_key(a));
  };
  for (auto& out : outputs) {
    if (!should_visit(out)) continue;
    visited.insert(node_key(out));
    stack.emplace_back(out, 0);
    while (!stack.empty()) {
      auto& [node, i] = stack.back();
      if (i < node.inputs().size()) {
        array in = node.inputs()[i++];
        if (should_visit(in)) {
          visited.insert(node_key(in));
          stack.emplace_back(std::move(in), 0);
        }
        continue;
      }
      bool act = false;
      if (through_stop_gradient || !is_stop_gradient(node)) {
        for (auto& in : node.inputs()) act |= t.is_active(in);
      }
      if (act) {
        for (auto& o : node.outputs()) t.active.insert(o.id());
        t.nodes.push_back(node);
      }
      stack.pop_back();
    }
  }
  return t;
}

std::vector<array> make_tracers(const std::vector<array>& primals) {
  std::vector<array> tracers;
  for (auto& p : primals) {
    auto c = copy(p);  // a distinct graph node per input, even when a primal is passed twice
    c.set_tracer(true);
    tracers.push_back(c);
  }
  return tracers;
}

using CotangentMaker = std::function<std::vector<std::optional<array>>(const std::vector<array>&)>;

std::pair<std::vector<array>, std::vector<array>> vjp_impl(const VecFn& fun, const std::vector<array>& primals,
                                                           const CotangentMaker& make_cotangents) {
  auto tracers = make_tracers(primals);
  auto outputs = fun(tracers);
  auto cots_in = make_cotangents(outputs);
  auto tape = active_tape(outputs, tracers);

  std::unordered_map<uintptr_t, array> cot;
  auto accumulate = [&cot](const array& target, array c) {
    if (is_inexact(target.dtype()) && c.dtype() != target.dtype()) c = astype(c, target.dtype());
    auto it = cot.find(target.id());
    if (it == cot.end()) cot.emplace(target.id(), std::move(c));
    else it->second = add(it->second, c);
  };
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (cots_in[i]) accumulate(outputs[i], *cots_in[i]);
  }
  for (auto it = tape.nodes.rbegin(); it != tape.nodes.rend(); ++it) {
    auto& node = *it;
    auto outs = node.outputs();
    std::vector<array> cots;
    bool any = false;
    for (auto& o : outs) {
      auto c = cot.find(o.id());
      if (c != cot.end()) {
        cots.push_back(c->second);
        any = true;
      } else {
        cots.push_back(zeros_like(o));
      }
    }
    if (!any) continue;
    auto& inputs = node.inputs();
    size_t n_diff = inputs.size();
    if (auto* ct = dynamic_cast<CustomTransforms*>(&node.primitive())) n_diff -= ct->num_outputs();
    std::vector<int> argnums;
    for (size_t i = 0; i < n_diff; ++i) {
      if (tape.is_active(inputs[i])) argnums.push_back(static_cast<int>(i));
    }
    if (argnums.empty()) continue;
    auto vjps = node.primitive().vjp(inputs, cots, argnums, outs);
    if (vjps.size() != argnums.size()) {
      throw std::runtime_error(std::string("[vjp] ") + node.primitive().name() + " returned " +
                               std::to_string(vjps.size()) + " cotangents for " + std::to_string(argnums.size()) +
                               " inputs.");
    }
    for (size_t j = 0; j < argnums.size(); ++j) accumulate(inputs[argnums[j]], vjps[j]);
    for (auto& o : outs) cot.erase(o.id());
  }
  std::vector<array> grads;
  for (size_t i = 0; i < tracers.size(); ++i) {
    auto c = cot.find(tracers[i].id());
    if (c == cot.end() || !is_inexact(primals[i].dtype())) {
      grads.push_back(zeros_like(primals[i]));
    } else {
      grads.push_back(c->second);
    }
  }
  return {outputs, grads};
}

void check_argnums(const std::vector<int>& argnums, size_t n, const char* name) {
  if (argnums.empty()) throw std::invalid_argument(std::string("[") + name + "] Got no argument numbers (argnums).");
  std::set<int> seen;
  for (int a : argnums) {
    if (a < 0 || static_cast<size_t>(a) >= n) {
      throw std::invalid_argument(std::string("[") + name + "] Invalid argument number " + std::to_string(a) +
                                  " for a function called with " + std::to_string(n) + " arguments.");
    }
    if (!seen.insert(a).second) {
      throw std::invalid_argument(std::string("[") + name + "] Repeated argument number " + std::to_string(a) + ".");
    }
  }
}

ValueAndGradFn value_and_grad_named(const VecFn& fun, const std::vector<int>& argnums, const char* name) {
  return [fun, argnums, name](const std::vector<array>& inputs) {
    check_argnums(argnums, inputs.size(), name);
    std::vector<array> primals;
    for (int a : argnums) primals.push_back(inputs[a]);
    auto inner = [&](const std::vector<array>& ps) {
      auto args = inputs;
      for (size_t j = 0; j < argnums.size(); ++j) args[argnums[j]] = ps[j];
      return fun(args);
    };
    auto make_cots = [name](const std::vector<array>& outs) {
      if (outs.empty()) throw std::invalid_argument(std::string("[") + name + "] The function returned no outputs.");
      if (outs[0].size() != 1) {
        throw std::invalid_argument(std::string("[") + name +
                                    "] The function must return a scalar as its first output, got shape " +
                                    shape_str(outs[0].shape()) + ".");
      }
      std::vector<std::optional<array>> cots(outs.size());
      cots[0] = ones_like(outs[0]);
      return cots;
    };
    return vjp_impl(inner, primals, make_cots);
  };
}

}  // namespace

// ---- vjp / jvp ----

std::pair<std::vector<array>, std::vector<array>> vjp(const VecFn& fun, const std::vector<array>& primals,
                                                      const std::vector<array>& cotangents) {
  return vjp_impl(fun, primals, [&](const std::vector<array>& outs) {
    if (outs.size() != cotangents.size()) {
      throw std::invalid_argument("[vjp] The function has " + std::to_string(outs.size()) + " outputs but " +
                                  std::to_string(cotangents.size()) + " cotangents were given.");
    }
    std::vector<std::optional<array>> c;
    for (size_t i = 0; i < outs.size(); ++i) {
      if (outs[i].shape() != cotangents[i].shape()) {
        throw std::invalid_argument("[vjp] Cotangent of shape " + shape_str(cotangents[i].shape()) +
                                    " does not match the output of shape " + shape_str(outs[i].shape()) + ".");
      }
      c.emplace_back(cotangents[i]);
    }
    return c;
  });
}

std::pair<array, array> vjp(const std::function<array(const array&)>& fun, const array& primal,
                            const array& cotangent) {
  auto [o, g] = vjp([&](const std::vector<array>& x) { return std::vector<array>{fun(x[0])}; }, {primal}, {cotangent});
  return {o[0], g[0]};
}

std::pair<std::vector<array>, std::vector<array>> jvp(const VecFn& fun, const std::vector<array>& primals,
                                                      const std::vector<array>& tangents) {
  if (primals.size() != tangents.size()) {
    throw std::invalid_argument("[jvp] Got " + std::to_string(primals.size()) + " primals but " +
                                std::to_string(tangents.size()) + " tangents.");
  }
  for (size_t i = 0; i < primals.size(); ++i) {
    if (primals[i].shape() != tangents[i].shape()) {
      throw std::invalid_argument("[jvp] Tangent of shape " + shape_str(tangents[i].shape()) +
                                  " does not match the primal of shape " + shape_str(primals[i].shape()) + ".");
    }
  }
  auto tracers = make_tracers(primals);
  auto outputs = fun(tracers);
  auto tape = active_tape(outputs, tracers);
  std::unordered_map<uintptr_t, array> tan;
  for (size_t i = 0; i < tracers.size(); ++i) {
    auto t = tangents[i];
    if (is_inexact(primals[i].dtype()) && t.dtype() != primals[i].dtype()) t = astype(t, primals[i].dtype());
    tan.emplace(tracers[i].id(), t);
  }
  for (auto& node : tape.nodes) {
    auto& inputs = node.inputs();
    size_t n_diff = inputs.size();
    if (auto* ct = dynamic_cast<CustomTransforms*>(&node.primitive())) n_diff -= ct->num_outputs();
    std::vector<int> argnums;
    std::vector<array> ts;
    for (size_t i = 0; i < n_diff; ++i) {
      auto it = tan.find(inputs[i].id());
      if (it != tan.end()) {
        argnums.push_back(static_cast<int>(i));
        ts.push_back(it->second);
      }
    }
    auto outs = node.outputs();
    if (argnums.empty()) continue;
    rules::CurrentOutputs current(&outs);
    auto jvps = node.primitive().jvp(inputs, ts, argnums);
    if (jvps.size() != outs.size()) {
      throw std::runtime_error(std::string("[jvp] ") + node.primitive().name() + " returned " +
                               std::to_string(jvps.size()) + " tangents for " + std::to_string(outs.size()) +
                               " outputs.");
    }
    for (size_t i = 0; i < outs.size(); ++i) tan.insert_or_assign(outs[i].id(), jvps[i]);
  }
  std::vector<array> out_tangents;
  for (auto& o : outputs) {
    auto it = tan.find(o.id());
    out_tangents.push_back(it == tan.end() ? zeros_like(o) : it->second);
  }
  return {outputs, out_tangents};
}

std::pair<array, array> jvp(const std::function<array(const array&)>& fun, const array& primal,
                            const array& tangent) {
  auto [o, t] = jvp([&](const std::vector<array>& x) { return std::vector<array>{fun(x[0])}; }, {primal}, {tangent});
  return {o[0], t[0]};
}

// ---- grad ----

ValueAndGradFn value_and_grad(const VecFn& fun, const std::vector<int>& argnums) {
  return value_and_grad_named(fun, argnums, "value_and_grad");
}
ValueAndGradFn value_and_grad(const VecFn& fun, int argnum) { return value_and_grad(fun, std::vector<int>{argnum}); }
ValueAndGradFn value_and_grad(const std::function<array(const std::vector<array>&)>& fun,
                              const std::vector<int>& argnums) {
  return value_and_grad([fun](const std::vector<array>& x) { return std::vector<array>{fun(x)}; }, argnums);
}
SimpleValueAndGradFn value_and_grad(const std::function<array(const array&)>& fun) {
  auto vg = value_and_grad([fun](const std::vector<array>& x) { return std::vector<array>{fun(x[0])}; },
                           std::vector<int>{0});
  return [vg](const array& x) {
    auto [v, g] = vg({x});
    return std::make_pair(v[0], g[0]);
  };
}

VecFn grad(const std::function<array(const std::vector<array>&)>& fun, const std::vector<int>& argnums) {
  auto vg = value_and_grad_named([fun](const std::vector<array>& x) { return std::vector<array>{fun(x)}; }, argnums,
                                 "grad");
  return [vg](const std::vector<array>& x) { return vg(x).second; };
}
std::function<array(const std::vector<array>&)> grad(const std::function<array(const std::vector<array>&)>& fun,
                                                     int argnum) {
  auto g = grad(fun, std::vector<int>{argnum});
  return [g](const std::vector<array>& x) { return g(x)[0]; };
}
std::function<array(const array&)> grad(const std::function<array(const array&)>& fun) {
  auto g = grad([fun](const std::vector<array>& x) { return fun(x[0]); }, std::vector<int>{0});
  return [g](const array& x) { return g({x})[0]; };
}

// ---- vmap ----

VecFn vmap(const VecFn& fun, const std::vector<int>& in_axes_arg, const std::vector<int>& out_axes) {
  return [fun, in_axes_arg, out_axes](const std::vector<array>& inputs) {
    auto in_axes = in_axes_arg.empty() ? std::vector<int>(inputs.size(), 0) : in_axes_arg;
    if (in_axes.size() != inputs.size()) {
      throw std::invalid_argument("[vmap] Got " + std::to_string(in_axes.size()) + " in_axes for " +
                                  std::to_string(inputs.size()) + " inputs.");
    }
    int n = -1;
    std::vector<array> tracers;
    std::vector<array> leaves;
    std::unordered_map<uintptr_t, std::pair<array, int>> mapped;
    for (size_t i = 0; i < inputs.size(); ++i) {
      int ax = in_axes[i];
      if (ax == -1) {
        tracers.push_back(inputs[i]);
        continue;
      }
      if (ax < 0 || ax >= inputs[i].ndim()) {
        throw std::invalid_argument("[vmap] in_axis " + std::to_string(ax) + " is out of range for input " +
                                    std::to_string(i) + " of shape " + shape_str(inputs[i].shape()) + ".");
      }
      if (n >= 0 && inputs[i].shape(ax) != n) {
        throw std::invalid_argument("[vmap] Inconsistent sizes of the mapped axes: " + std::to_string(n) + " and " +
                                    std::to_string(inputs[i].shape(ax)) + ".");
      }
      n = inputs[i].shape(ax);
      Shape s = inputs[i].shape();
      s.erase(s.begin() + ax);
      array t(std::move(s), inputs[i].dtype(), nullptr, {});  // a placeholder: never evaluated
      t.set_tracer(true);
      tracers.push_back(t);
      leaves.push_back(t);
      mapped.emplace(t.id(), std::make_pair(inputs[i], ax));
    }
    if (n < 0) throw std::invalid_argument("[vmap] At least one input must be mapped (in_axes all -1).");
    auto outputs = fun(tracers);
    auto tape = active_tape(outputs, leaves, true);
    for (auto& node : tape.nodes) {
      std::vector<array> ins;
      std::vector<int> axes;
      for (auto& in : node.inputs()) {
        auto it = mapped.find(in.id());
        if (it != mapped.end()) {
          ins.push_back(it->second.first);
          axes.push_back(it->second.second);
        } else {
          ins.push_back(in);
          axes.push_back(-1);
        }
      }
      auto outs = node.outputs();
      rules::CurrentOutputs current(&outs);  // rules that need the unbatched output shapes read them
      auto [vouts, vaxes] = node.primitive().vmap(ins, axes);
      if (vouts.size() != outs.size() || vaxes.size() != outs.size()) {
        throw std::runtime_error(std::string("[vmap] ") + node.primitive().name() + " returned the wrong number of outputs.");
      }
      for (size_t i = 0; i < outs.size(); ++i) mapped.insert_or_assign(outs[i].id(), std::make_pair(vouts[i], vaxes[i]));
    }
    if (!out_axes.empty() && out_axes.size() != outputs.size()) {
      throw std::invalid_argument("[vmap] Got " + std::to_string(out_axes.size()) + " out_axes for " +
                                  std::to_string(outputs.size()) + " outputs.");
    }
    std::vector<array> results;
    for (size_t i = 0; i < outputs.size(); ++i) {
      int oa = out_axes.empty() ? 0 : out_axes[i];
      auto it = mapped.find(outputs[i].id());
      array r = outputs[i];
      int ax = -1;
      if (it != mapped.end()) {
        r = it->second.first;
        ax = it->second.second;
      }
      int nd = ax >= 0 ? r.ndim() : r.ndim() + 1;
      if (oa < 0 || oa >= nd) {
        throw std::invalid_argument("[vmap] out_axis " + std::to_string(oa) + " is out of range for an output with " +
                                    std::to_string(nd) + " dimensions.");
      }
      if (ax >= 0) {
        results.push_back(moveaxis(r, ax, oa));
      } else {
        auto e = expand_dims(r, oa);
        Shape s = e.shape();
        s[oa] = n;
        results.push_back(broadcast_to(e, s));
      }
    }
    return results;
  };
}

std::function<array(const array&)> vmap(const std::function<array(const array&)>& fun, int in_axis, int out_axis) {
  auto v = vmap([fun](const std::vector<array>& x) { return std::vector<array>{fun(x[0])}; }, {in_axis}, {out_axis});
  return [v](const array& x) { return v({x})[0]; };
}

std::function<array(const array&, const array&)> vmap(const std::function<array(const array&, const array&)>& fun,
                                                      int in_axis_a, int in_axis_b, int out_axis) {
  auto v = vmap([fun](const std::vector<array>& x) { return std::vector<array>{fun(x[0], x[1])}; },
                {in_axis_a, in_axis_b}, {out_axis});
  return [v](const array& a, const array& b) { return v({a, b})[0]; };
}

// ---- stop_gradient, custom_function, checkpoint ----

array stop_gradient(const array& a, StreamOrDevice s) {
  return array(a.shape(), a.dtype(), std::make_shared<StopGradient>(to_stream(s)), {a});
}

VecFn custom_function(VecFn fun, std::optional<CustomVjpFn> fun_vjp, std::optional<CustomJvpFn> fun_jvp,
                      std::optional<CustomVmapFn> fun_vmap) {
  return [fun, fun_vjp, fun_jvp, fun_vmap](const std::vector<array>& inputs) {
    auto outs = fun(inputs);
    if (outs.empty()) throw std::invalid_argument("[custom_function] The function returned no outputs.");
    std::vector<Shape> shapes;
    std::vector<Dtype> dtypes;
    for (auto& o : outs) {
      shapes.push_back(o.shape());
      dtypes.push_back(o.dtype());
    }
    auto all_inputs = inputs;
    all_inputs.insert(all_inputs.end(), outs.begin(), outs.end());
    auto prim = std::make_shared<CustomTransforms>(to_stream({}), static_cast<int>(outs.size()), fun, fun_vjp, fun_jvp,
                                                   fun_vmap);
    return array::make_arrays(shapes, dtypes, prim, all_inputs);
  };
}

VecFn checkpoint(const VecFn& fun) {
  // The recomputation waits for the cotangents: otherwise the scheduler may recompute every
  // checkpointed block before the backward pass reaches it, keeping all their intermediates alive.
  CustomVjpFn recompute = [fun](const std::vector<array>& primals, const std::vector<array>& cotangents,
                                const std::vector<array>&) {
    return vjp(fun, depends(primals, cotangents), cotangents).second;
  };
  return custom_function(fun, recompute);
}

}  // namespace tessera
