// Bindings for tessera/transforms.h and compile.h: grad, value_and_grad, vjp, jvp, vmap, stop_gradient,
// checkpoint, custom_function and compile over Python functions of trees (lists, tuples, dicts) of arrays.
#include <nanobind/stl/function.h>

#include <string>
#include <unordered_map>

#include "tessera/compile.h"
#include "utils.h"

using namespace tessera;

namespace {

// ---- Trees: arrays are the leaves that transforms see; other leaves pass through as constants.

bool is_array(nb::handle h) { return nb::isinstance<array>(h); }

nb::tuple to_tuple(nb::handle seq) {
  PyObject* t = PySequence_Tuple(seq.ptr());
  if (!t) throw nb::python_error();
  return nb::steal<nb::tuple>(t);
}

nb::list to_list(nb::handle seq) {
  nb::list out;
  for (auto h : seq) out.append(h);
  return out;
}

// A Python object kept by a C++ function that may outlive the call (checkpoint, custom_function
// keep theirs in the graph): released with the GIL held, whichever thread drops the last reference.
struct PyRef {
  nb::object obj;
  explicit PyRef(nb::object o) : obj(std::move(o)) {}
  ~PyRef() {
    if (Py_IsInitialized()) {
      nb::gil_scoped_acquire gil;
      obj.reset();
    } else {
      obj.release();
    }
  }
};
using PyRefPtr = std::shared_ptr<PyRef>;
PyRefPtr keep(nb::object o) { return std::make_shared<PyRef>(std::move(o)); }

// Arrays of `tree` in order (lists, tuples and dicts recursively, dicts in insertion order).
void flatten(nb::handle tree, std::vector<array>& out) { txpy::collect_arrays(tree, out); }

// A copy of `tree` whose arrays are replaced, in order, by arrays[pos], arrays[pos + 1], ...
nb::object fill(nb::handle tree, const std::vector<array>& arrays, size_t& pos) {
  if (is_array(tree)) {
    if (pos >= arrays.size())
      throw std::runtime_error("[transforms] internal: too few arrays to fill the tree");
    return nb::cast(arrays[pos++]);
  }
  if (nb::isinstance<nb::list>(tree)) {
    nb::list out;
    for (auto h : tree) out.append(fill(h, arrays, pos));
    return out;
  }
  if (nb::isinstance<nb::tuple>(tree)) {
    nb::list items;
    for (auto h : tree) items.append(fill(h, arrays, pos));
    return to_tuple(items);
  }
  if (nb::isinstance<nb::dict>(tree)) {
    nb::dict out;
    for (auto [k, v] : nb::borrow<nb::dict>(tree)) out[k] = fill(v, arrays, pos);
    return out;
  }
  return nb::borrow(tree);
}

nb::object fill_all(nb::handle tree, const std::vector<array>& arrays) {
  size_t pos = 0;
  nb::object out = fill(tree, arrays, pos);
  if (pos != arrays.size()) throw std::runtime_error("[transforms] internal: too many arrays for the tree");
  return out;
}

// Outputs of a Python function as arrays; `structure` keeps the returned object (to refill later).
std::vector<array> outputs_of(const char* name, nb::handle result, nb::object* structure) {
  std::vector<array> out;
  if (is_array(result)) {
    out.push_back(nb::cast<array>(result));
  } else if (nb::isinstance<nb::list>(result) || nb::isinstance<nb::tuple>(result) ||
             nb::isinstance<nb::dict>(result)) {
    flatten(result, out);
  } else {
    throw nb::value_error(
        (std::string("[") + name +
         "] The function must return an array or a tree (list, tuple, dict) of arrays, got " +
         nb::inst_name(result).c_str() + ".")
            .c_str());
  }
  if (structure) *structure = nb::borrow(result);
  return out;
}

std::vector<int> to_argnums(nb::handle argnums) {
  if (argnums.is_none()) return {0};
  if (nb::isinstance<nb::int_>(argnums)) return {nb::cast<int>(argnums)};
  return nb::cast<std::vector<int>>(argnums);
}

// Python primals as a list of positional arguments (a single array or tree is one argument).
nb::list as_arg_list(nb::handle primals) {
  if (nb::isinstance<nb::list>(primals) || nb::isinstance<nb::tuple>(primals)) {
    nb::list out;
    for (auto h : primals) out.append(h);
    return out;
  }
  nb::list out;
  out.append(primals);
  return out;
}

// The arguments with the given positions' arrays replaced by `flat` (split by counts).
nb::tuple rebuild_args(const nb::list& args, const std::vector<int>& positions,
                       const std::vector<size_t>& counts, const std::vector<array>& flat) {
  nb::list out;
  for (auto h : args) out.append(h);
  size_t pos = 0;
  for (size_t i = 0; i < positions.size(); ++i) {
    std::vector<array> part(flat.begin() + pos, flat.begin() + pos + counts[i]);
    pos += counts[i];
    out[positions[i]] = fill_all(args[positions[i]], part);
  }
  return to_tuple(out);
}

// Flattens the arrays of args[positions[i]] for each i; counts[i] = how many came from each.
std::vector<array> flatten_positions(const nb::list& args, const std::vector<int>& positions,
                                     std::vector<size_t>& counts) {
  std::vector<array> flat;
  for (int p : positions) {
    size_t before = flat.size();
    flatten(args[p], flat);
    counts.push_back(flat.size() - before);
  }
  return flat;
}

std::vector<int> normalize_argnums(const char* name, std::vector<int> argnums, size_t nargs) {
  if (argnums.empty())
    throw nb::value_error((std::string("[") + name + "] argnums must not be empty.").c_str());
  for (int& a : argnums) {
    int n = static_cast<int>(nargs);
    if (a < 0) a += n;
    if (a < 0 || a >= n) {
      throw nb::value_error((std::string("[") + name + "] argnums " + std::to_string(a) +
                             " is out of range for " + std::to_string(nargs) + " positional arguments.")
                                .c_str());
    }
  }
  return argnums;
}

// MLX's value_and_grad: returns (value, grads) where value is what fun returned and grads has the
// tree structure of the differentiated argument(s) (a tuple of them when argnums is a sequence).
nb::object value_and_grad_call(const char* name, nb::callable fun, nb::handle argnums_obj,
                               const nb::args& args, const nb::kwargs& kwargs, bool return_value) {
  nb::list arg_list;
  for (auto h : args) arg_list.append(h);
  bool single = argnums_obj.is_none() || nb::isinstance<nb::int_>(argnums_obj);
  std::vector<int> positions = normalize_argnums(name, to_argnums(argnums_obj), arg_list.size());
  std::vector<size_t> counts;
  std::vector<array> flat = flatten_positions(arg_list, positions, counts);
  for (size_t i = 0; i < positions.size(); ++i) {
    if (counts[i] == 0) {
      throw nb::value_error((std::string("[") + name + "] argument " + std::to_string(positions[i]) +
                             " holds no arrays to differentiate (got " +
                             nb::inst_name(arg_list[positions[i]]).c_str() + ").")
                                .c_str());
    }
  }

  nb::object structure;
  VecFn inner = [&](const std::vector<array>& xs) {
    nb::object result = fun(*rebuild_args(arg_list, positions, counts, xs), **kwargs);
    if (!is_array(result)) {
      bool ok = (nb::isinstance<nb::tuple>(result) || nb::isinstance<nb::list>(result)) &&
                nb::len(result) > 0 && is_array(result[0]);
      if (!ok) {
        throw nb::value_error(
            (std::string("[") + name +
             "] The function must return a scalar array, or a tuple or list whose first element "
             "is a scalar array.")
                .c_str());
      }
    }
    return outputs_of(name, result, &structure);
  };
  std::vector<int> all(flat.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int>(i);
  auto res = tessera::value_and_grad(inner, all)(flat);
  nb::list grads;
  size_t pos = 0;
  for (size_t i = 0; i < positions.size(); ++i) {
    std::vector<array> part(res.second.begin() + pos, res.second.begin() + pos + counts[i]);
    pos += counts[i];
    grads.append(fill_all(arg_list[positions[i]], part));
  }
  nb::object g = single ? nb::object(grads[0]) : nb::object(to_tuple(grads));
  if (!return_value) return g;
  return nb::make_tuple(fill_all(structure, res.first), g);
}

// Per-leaf axes for vmap: `spec` is an int/None (for all leaves of `tree`) or a tree prefix of it.
void leaf_axes(const char* what, nb::handle tree, nb::handle spec, std::vector<int>& out, bool is_input) {
  if (spec.is_none() || nb::isinstance<nb::int_>(spec)) {
    std::vector<array> leaves;
    flatten(tree, leaves);
    for (const auto& a : leaves) {
      int ax = spec.is_none() ? -1 : nb::cast<int>(spec);
      if (!spec.is_none()) {
        int nd = is_input ? a.ndim() : a.ndim() + 1;
        if (ax < 0) ax += nd;
        if (ax < 0 || ax >= nd) {
          throw nb::value_error(("[vmap] " + std::string(what) + " axis " +
                                 std::to_string(nb::cast<int>(spec)) + " is out of range for an array with " +
                                 std::to_string(a.ndim()) + " dimensions.")
                                    .c_str());
        }
      }
      out.push_back(ax);
    }
    return;
  }
  if ((nb::isinstance<nb::list>(spec) || nb::isinstance<nb::tuple>(spec)) &&
      (nb::isinstance<nb::list>(tree) || nb::isinstance<nb::tuple>(tree))) {
    if (nb::len(spec) != nb::len(tree)) {
      throw nb::value_error(("[vmap] " + std::string(what) + " has " + std::to_string(nb::len(spec)) +
                             " entries for a sequence of " + std::to_string(nb::len(tree)) + ".")
                                .c_str());
    }
    for (size_t i = 0; i < nb::len(tree); ++i) leaf_axes(what, tree[i], spec[i], out, is_input);
    return;
  }
  if (nb::isinstance<nb::dict>(spec) && nb::isinstance<nb::dict>(tree)) {
    for (auto [k, v] : nb::borrow<nb::dict>(tree)) {
      if (!nb::borrow<nb::dict>(spec).contains(k)) {
        throw nb::value_error(("[vmap] " + std::string(what) + " has no entry for key " +
                               nb::cast<std::string>(nb::repr(k)) + ".")
                                  .c_str());
      }
      leaf_axes(what, v, spec[k], out, is_input);
    }
    return;
  }
  throw nb::value_error(
      ("[vmap] " + std::string(what) + " must be an int, None, or a tree matching the arguments.").c_str());
}

// A Python callable of *args whose array leaves are traced by a C++ VecFn transform.
struct TreeFn {
  nb::callable fun;
  nb::object structure;  // the last call's output tree
  std::vector<array> operator()(const nb::tuple& args_template, const std::vector<array>& xs,
                                const char* name) {
    nb::object args = fill_all(args_template, xs);
    nb::object r = fun(*args);
    return outputs_of(name, r, &structure);
  }
};

// ---- custom_function: a callable with .vjp / .jvp / .vmap decorators, as MLX's.
struct CustomFunction {
  nb::callable fun;
  std::optional<nb::callable> vjp_fn, jvp_fn, vmap_fn;

  nb::object call(const nb::args& args, const nb::kwargs& kwargs) {
    if (!fun.is_valid()) throw nb::value_error("[custom_function] the function was cleared.");
    nb::tuple args_t = to_tuple(args);
    std::vector<array> flat;
    flatten(args_t, flat);
    auto structure = keep(nb::none());
    auto f = keep(fun), kw = keep(kwargs), targs = keep(args_t);
    VecFn base = [f, kw, targs, structure](const std::vector<array>& xs) {
      nb::gil_scoped_acquire gil;
      nb::object r = f->obj(*fill_all(targs->obj, xs), **kw->obj);
      return outputs_of("custom_function", r, &structure->obj);
    };
    std::optional<CustomVjpFn> cvjp;
    std::optional<CustomJvpFn> cjvp;
    std::optional<CustomVmapFn> cvmap;
    if (vjp_fn) {
      auto g = keep(*vjp_fn);
      cvjp = [g, targs, structure](const std::vector<array>& primals, const std::vector<array>& cotangents,
                                   const std::vector<array>& outputs) {
        nb::gil_scoped_acquire gil;
        nb::object p = fill_all(targs->obj, primals);
        nb::object ct = fill_all(structure->obj, cotangents);
        nb::object out = fill_all(structure->obj, outputs);
        nb::object r = g->obj(p, ct, out);
        std::vector<array> res;
        flatten(r, res);
        return res;
      };
    }
    if (jvp_fn) {
      auto g = keep(*jvp_fn);
      cjvp = [g, targs](const std::vector<array>& primals, const std::vector<array>& tangents,
                        const std::vector<int>& argnums) {
        nb::gil_scoped_acquire gil;
        nb::object p = fill_all(targs->obj, primals);
        // Tangents of the arrays not in argnums are zeros, so the Python side sees a full tree.
        std::vector<array> full;
        full.reserve(primals.size());
        size_t j = 0;
        for (size_t i = 0; i < primals.size(); ++i) {
          if (j < argnums.size() && argnums[j] == static_cast<int>(i)) {
            full.push_back(tangents[j++]);
          } else {
            full.push_back(zeros_like(primals[i]));
          }
        }
        nb::object t = fill_all(targs->obj, full);
        nb::object r = g->obj(p, t);
        std::vector<array> res;
        if (is_array(r)) {
          res.push_back(nb::cast<array>(r));
        } else {
          flatten(r, res);
        }
        return res;
      };
    }
    if (vmap_fn) {
      auto g = keep(*vmap_fn);
      cvmap = [g, targs, structure](const std::vector<array>& inputs, const std::vector<int>& axes) {
        nb::gil_scoped_acquire gil;
        nb::object in = fill_all(targs->obj, inputs);
        nb::list ax;
        for (int a : axes) ax.append(a < 0 ? nb::none() : nb::object(nb::int_(a)));
        nb::object r = g->obj(in, ax);
        if (!nb::isinstance<nb::tuple>(r) || nb::len(r) != 2) {
          throw nb::value_error("[custom_function] The vmap function must return (outputs, axes).");
        }
        std::vector<array> outs;
        nb::object o = r[0];
        if (is_array(o)) {
          outs.push_back(nb::cast<array>(o));
        } else {
          flatten(o, outs);
        }
        std::vector<int> out_axes;
        nb::object oa = r[1];
        if (oa.is_none() || nb::isinstance<nb::int_>(oa)) {
          out_axes.assign(outs.size(), oa.is_none() ? -1 : nb::cast<int>(oa));
        } else {
          for (auto h : oa) out_axes.push_back(h.is_none() ? -1 : nb::cast<int>(h));
        }
        return std::make_pair(outs, out_axes);
      };
    }
    VecFn wrapped = custom_function(base, cvjp, cjvp, cvmap);
    std::vector<array> outs = wrapped(flat);
    return fill_all(structure->obj, outs);
  }
};

// Garbage-collector support: a custom_function's rules usually refer back to it through their
// module's globals, a cycle that Python can only collect if it sees the references.
int custom_function_traverse(PyObject* self, visitproc visit, void* arg) {
  Py_VISIT(Py_TYPE(self));
  if (!nb::inst_ready(self)) return 0;
  auto* cf = nb::inst_ptr<CustomFunction>(self);
  Py_VISIT(cf->fun.ptr());
  for (auto* f : {&cf->vjp_fn, &cf->jvp_fn, &cf->vmap_fn}) {
    if (*f) Py_VISIT((*f)->ptr());
  }
  return 0;
}

int custom_function_clear(PyObject* self) {
  auto* cf = nb::inst_ptr<CustomFunction>(self);
  cf->fun.reset();
  cf->vjp_fn.reset();
  cf->jvp_fn.reset();
  cf->vmap_fn.reset();
  return 0;
}

PyType_Slot custom_function_slots[] = {{Py_tp_traverse, reinterpret_cast<void*>(custom_function_traverse)},
                                       {Py_tp_clear, reinterpret_cast<void*>(custom_function_clear)},
                                       {0, nullptr}};


// ---- compile: one C++ CompiledFunction per call structure (tree shapes, non-array leaves, keyword
// arguments), since a trace bakes those in; within one structure C++ retraces per shape/dtype.

std::string structure_key(nb::handle tree) {
  if (is_array(tree)) return "A";
  std::string out;
  if (nb::isinstance<nb::list>(tree) || nb::isinstance<nb::tuple>(tree)) {
    out = nb::isinstance<nb::list>(tree) ? "[" : "(";
    for (auto h : tree) out += structure_key(h) + ",";
    return out + (nb::isinstance<nb::list>(tree) ? "]" : ")");
  }
  if (nb::isinstance<nb::dict>(tree)) {
    out = "{";
    for (auto [k, v] : nb::borrow<nb::dict>(tree)) out += nb::repr(k).c_str() + std::string(":") + structure_key(v) + ",";
    return out + "}";
  }
  return std::string(nb::repr(tree).c_str()) + "|" + nb::inst_name(tree).c_str();
}

// ---- compile's implicit state (inputs= / outputs=, as MLX): trees of lists and dicts (a Module,
// an optimizer's state) whose arrays are extra inputs of every call and are replaced, in place, by
// extra outputs after it. A dict whose type has _tx_sync(phase) mirrors state kept elsewhere (the
// optimizer's, in C++): it is told when to refresh itself ("pull" before a call, "pull_trace" after
// fun ran in a trace), when its arrays were replaced by tracers ("push_trace"), to go back to its
// state from before the trace ("restore"), to take the layout of the traced outputs ("pre_push") and
// that its arrays were replaced by the call's results ("push").

bool has_sync(nb::handle h) { return nb::isinstance<nb::dict>(h) && nb::hasattr(h.type(), "_tx_sync"); }

void sync_state(nb::handle tree, const char* phase) {
  if (has_sync(tree)) tree.attr("_tx_sync")(phase);
  if (nb::isinstance<nb::list>(tree) || nb::isinstance<nb::tuple>(tree)) {
    for (auto h : tree) sync_state(h, phase);
  } else if (nb::isinstance<nb::dict>(tree)) {
    for (auto [k, v] : nb::borrow<nb::dict>(tree)) sync_state(v, phase);
  }
}

// The arrays of a state tree in order; skip_synced: leaving out those of _tx_sync dicts.
void flatten_state(nb::handle tree, std::vector<array>& out, bool skip_synced) {
  if (skip_synced && has_sync(tree)) return;
  if (is_array(tree)) {
    out.push_back(nb::cast<array>(tree));
  } else if (nb::isinstance<nb::list>(tree) || nb::isinstance<nb::tuple>(tree)) {
    for (auto h : tree) flatten_state(h, out, skip_synced);
  } else if (nb::isinstance<nb::dict>(tree)) {
    for (auto [k, v] : nb::borrow<nb::dict>(tree)) flatten_state(v, out, skip_synced);
  }
}

// Replaces the arrays of `tree` in place, in flatten order, by arrays[pos], arrays[pos + 1], ...
void replace_state(nb::handle tree, const std::vector<array>& arrays, size_t& pos, bool skip_synced = false) {
  if (skip_synced && has_sync(tree)) return;
  auto next = [&]() {
    if (pos >= arrays.size()) throw std::runtime_error("[compile] internal: too few state arrays");
    return nb::cast(arrays[pos++]);
  };
  if (nb::isinstance<nb::list>(tree)) {
    nb::list l = nb::borrow<nb::list>(tree);
    for (size_t i = 0; i < nb::len(l); ++i) {
      if (is_array(l[i])) l[i] = next();
      else replace_state(l[i], arrays, pos, skip_synced);
    }
  } else if (nb::isinstance<nb::dict>(tree)) {
    nb::dict d = nb::borrow<nb::dict>(tree);
    for (auto k : nb::list(d.keys())) {
      nb::object v = d[k];
      if (is_array(v)) {
        if (PyDict_SetItem(d.ptr(), k.ptr(), next().ptr()) != 0) throw nb::python_error();  // no Module hooks
      } else {
        replace_state(v, arrays, pos, skip_synced);
      }
    }
  } else if (nb::isinstance<nb::tuple>(tree)) {
    for (auto h : tree) {
      if (is_array(h)) throw nb::value_error("[compile] state arrays must sit in lists or dicts (a tuple cannot be updated in place).");
      replace_state(h, arrays, pos, skip_synced);
    }
  }
}

void check_state_tree(nb::handle tree, const char* what) {
  if (is_array(tree)) {
    throw nb::value_error((std::string("[compile] ") + what +
                           " must be a list or dict (tree) holding the state arrays, not an array itself.")
                              .c_str());
  }
}

struct PyCompiled {
  nb::callable fun;
  bool shapeless;
  nb::object state_in = nb::none(), state_out = nb::none();
  struct Entry {
    std::shared_ptr<CompiledFunction> compiled;
    PyRefPtr out_structure;
    std::shared_ptr<size_t> fun_outputs;  // how many outputs are fun's (the rest are state)
    std::vector<PyRefPtr> refs;             // the Python objects its trace function keeps (for the GC)
  };
  std::unordered_map<std::string, Entry> cache;

  nb::object call(nb::args args, nb::kwargs kwargs) {
    nb::tuple args_t = to_tuple(args);
    if (!compile_enabled()) return fun(*args_t, **kwargs);
    bool stateful = !state_in.is_none() || !state_out.is_none();
    if (stateful) {
      sync_state(state_in, "pull");
      if (!state_out.is(state_in)) sync_state(state_out, "pull");
    }
    std::vector<array> flat;
    flatten(args_t, flat);
    size_t n_args = flat.size();
    flatten_state(state_in, flat, false);
    std::string key = structure_key(args_t) + "#" + structure_key(kwargs);
    if (stateful) key += "#" + structure_key(state_in);
    auto it = cache.find(key);
    if (it == cache.end()) {
      auto structure = keep(nb::none());
      auto n_out = std::make_shared<size_t>(0);
      auto f = keep(fun), kw = keep(kwargs), targs = keep(args_t), sin = keep(state_in), sout = keep(state_out);
      VecFn inner = [f, kw, targs, structure, n_args, n_out, sin, sout](const std::vector<array>& xs) {
        nb::gil_scoped_acquire gil;
        std::vector<array> arg_xs(xs.begin(), xs.begin() + static_cast<long>(n_args));
        std::vector<array> state_xs(xs.begin() + static_cast<long>(n_args), xs.end()), before;
        flatten_state(sin->obj, before, true);  // _tx_sync dicts restore themselves
        auto restore = [&]() {
          size_t p = 0;
          replace_state(sin->obj, before, p, true);
          sync_state(sin->obj, "restore");
        };
        size_t p = 0;
        replace_state(sin->obj, state_xs, p);
        sync_state(sin->obj, "push_trace");
        std::vector<array> outs;
        try {
          nb::object r = f->obj(*fill_all(targs->obj, arg_xs), **kw->obj);
          outs = outputs_of("compile", r, &structure->obj);
          *n_out = outs.size();
          sync_state(sout->obj, "pull_trace");
          flatten_state(sout->obj, outs, false);
        } catch (...) {
          restore();
          throw;
        }
        restore();
        return outs;
      };
      Entry e{std::make_shared<CompiledFunction>(tessera::compile(inner, shapeless)), structure, n_out,
              {f, kw, targs, sin, sout, structure}};
      it = cache.emplace(key, std::move(e)).first;
    }
    auto outs = (*it->second.compiled)(flat);
    size_t n_fun = stateful ? *it->second.fun_outputs : outs.size();
    if (stateful) {
      std::vector<array> state_outs(outs.begin() + static_cast<long>(n_fun), outs.end());
      sync_state(state_out, "pre_push");
      size_t p = 0;
      replace_state(state_out, state_outs, p);
      if (p != state_outs.size()) throw std::runtime_error("[compile] the state (outputs=) changed its structure since it was traced.");
      sync_state(state_out, "push");
      outs.erase(outs.begin() + static_cast<long>(n_fun), outs.end());
    }
    return fill_all(it->second.out_structure->obj, outs);
  }
};

// Garbage-collector support: a compiled function usually refers back to itself through its
// function's globals (and its state through closures).
int compiled_traverse(PyObject* self, visitproc visit, void* arg) {
  Py_VISIT(Py_TYPE(self));
  if (!nb::inst_ready(self)) return 0;
  auto* c = nb::inst_ptr<PyCompiled>(self);
  Py_VISIT(c->fun.ptr());
  Py_VISIT(c->state_in.ptr());
  Py_VISIT(c->state_out.ptr());
  for (auto& [key, e] : c->cache) {
    for (auto& r : e.refs) Py_VISIT(r->obj.ptr());
  }
  return 0;
}

int compiled_clear(PyObject* self) {
  auto* c = nb::inst_ptr<PyCompiled>(self);
  c->cache.clear();
  c->fun.reset();
  c->state_in = nb::none();
  c->state_out = nb::none();
  return 0;
}

PyType_Slot compiled_slots[] = {{Py_tp_traverse, reinterpret_cast<void*>(compiled_traverse)},
                                {Py_tp_clear, reinterpret_cast<void*>(compiled_clear)},
                                {0, nullptr}};

}  // namespace

void init_transforms(nb::module_& m) {
  m.def(
      "value_and_grad",
      [](nb::callable fun, nb::object argnums) {
        return nb::cpp_function([fun, argnums](nb::args args, nb::kwargs kwargs) {
          return value_and_grad_call("value_and_grad", fun, argnums, args, kwargs, true);
        });
      },
      "fun"_a, "argnums"_a = nb::none(),
      nb::sig(
          "def value_and_grad(fun: typing.Callable, argnums: int | typing.Sequence[int] | None = None) -> "
          "typing.Callable"),
      "Returns a function computing (fun(*args), gradient of fun w.r.t. args[argnums]). fun returns a scalar "
      "array, "
      "or a tuple/list whose first element is the scalar loss (the rest is returned as it is). Arguments may "
      "be "
      "trees (lists, tuples, dicts) of arrays; gradients come back in the same structure (a tuple of them "
      "when "
      "argnums is a sequence). Non-array leaves are constants.");
  m.def(
      "grad",
      [](nb::callable fun, nb::object argnums) {
        return nb::cpp_function([fun, argnums](nb::args args, nb::kwargs kwargs) {
          return value_and_grad_call("grad", fun, argnums, args, kwargs, false);
        });
      },
      "fun"_a, "argnums"_a = nb::none(),
      nb::sig("def grad(fun: typing.Callable, argnums: int | typing.Sequence[int] | None = None) -> "
              "typing.Callable"),
      "Returns a function computing the gradient of the scalar fun w.r.t. args[argnums] (trees allowed).");
  m.def(
      "vjp",
      [](nb::callable fun, nb::object primals, nb::object cotangents) {
        nb::tuple args = to_tuple(as_arg_list(primals));
        std::vector<array> flat;
        flatten(args, flat);
        TreeFn tf{fun, {}};
        VecFn inner = [&](const std::vector<array>& xs) { return tf(args, xs, "vjp"); };
        std::vector<array> cts;
        flatten(cotangents, cts);
        auto [outs, vjps] = tessera::vjp(inner, flat, cts);
        nb::object out_tree =
            is_array(tf.structure) ? nb::object(nb::make_tuple(tf.structure)) : tf.structure;
        return nb::make_tuple(to_list(fill_all(out_tree, outs)), to_list(fill_all(args, vjps)));
      },
      "fun"_a, "primals"_a, "cotangents"_a,
      "Returns (outputs, vjps): fun(*primals) and the cotangents of the primals for the given output "
      "cotangents.");
  m.def(
      "jvp",
      [](nb::callable fun, nb::object primals, nb::object tangents) {
        nb::tuple args = to_tuple(as_arg_list(primals));
        std::vector<array> flat;
        flatten(args, flat);
        TreeFn tf{fun, {}};
        VecFn inner = [&](const std::vector<array>& xs) { return tf(args, xs, "jvp"); };
        std::vector<array> tans;
        flatten(tangents, tans);
        auto [outs, jvps] = tessera::jvp(inner, flat, tans);
        nb::object out_tree =
            is_array(tf.structure) ? nb::object(nb::make_tuple(tf.structure)) : tf.structure;
        return nb::make_tuple(to_list(fill_all(out_tree, outs)), to_list(fill_all(out_tree, jvps)));
      },
      "fun"_a, "primals"_a, "tangents"_a,
      "Returns (outputs, jvps): fun(*primals) and the output tangents for the given primal tangents.");
  m.def(
      "vmap",
      [](nb::callable fun, nb::object in_axes, nb::object out_axes) {
        return nb::cpp_function([fun, in_axes, out_axes](nb::args args) {
          nb::tuple args_t = to_tuple(args);
          std::vector<int> in_ax;
          nb::object spec = in_axes;
          if (nb::isinstance<nb::list>(spec) && nb::len(args_t) != nb::len(spec) && nb::len(args_t) == 1) {
            spec = nb::make_tuple(spec);  // a list is one argument's axes when there is one argument
          }
          leaf_axes("in_axes", args_t, spec, in_ax, true);
          std::vector<array> flat;
          flatten(args_t, flat);
          TreeFn tf{fun, {}};
          // The output structure is known after the trace: axes are computed there.
          std::vector<int> out_ax;
          VecFn inner = [&](const std::vector<array>& xs) {
            std::vector<array> outs = tf(args_t, xs, "vmap");
            return outs;
          };
          bool default_out = nb::isinstance<nb::int_>(out_axes) && nb::cast<int>(out_axes) == 0;
          if (default_out) {
            auto outs = tessera::vmap(inner, in_ax, {})(flat);
            return fill_all(tf.structure, outs);
          }
          // One trace of an unbatched slice to learn the output tree (C++ vmap takes out_axes up front).
          std::vector<array> probe;
          for (size_t i = 0; i < flat.size(); ++i) {
            probe.push_back(in_ax[i] < 0 ? flat[i] : take(flat[i], 0, in_ax[i]));
          }
          std::vector<array> probe_out = inner(probe);
          nb::object out_tree = tf.structure;
          nb::object ospec = out_axes;
          if ((nb::isinstance<nb::list>(ospec) || nb::isinstance<nb::tuple>(ospec)) && is_array(out_tree)) {
            out_tree = nb::make_tuple(out_tree);
          }
          leaf_axes("out_axes", out_tree, ospec, out_ax, false);
          for (int a : out_ax) {
            if (a < 0) throw nb::value_error("[vmap] out_axes cannot be None.");
          }
          auto outs = tessera::vmap(inner, in_ax, out_ax)(flat);
          return fill_all(tf.structure, outs);
        });
      },
      "fun"_a, "in_axes"_a.none() = 0, "out_axes"_a.none() = 0,
      nb::sig("def vmap(fun: typing.Callable, in_axes: object = 0, out_axes: object = 0) -> typing.Callable"),
      "Vectorizes fun over the given axes of its inputs (None: not mapped; a tree of axes per argument).");
  m.def(
      "stop_gradient",
      [](const ArrayLike& a, StreamOrDevice s) { return stop_gradient(txpy::to_array(a), s); }, "a"_a,
      TX_STREAM, "The identity, with a zero gradient.");
  m.def(
      "checkpoint",
      [](nb::callable fun) {
        return nb::cpp_function([fun](nb::args args, nb::kwargs kwargs) {
          nb::tuple args_t = to_tuple(args);
          std::vector<array> flat;
          flatten(args_t, flat);
          auto structure = keep(nb::none());
          auto f = keep(fun), kw = keep(kwargs), targs = keep(args_t);
          VecFn inner = [f, kw, targs, structure](const std::vector<array>& xs) {
            nb::gil_scoped_acquire gil;
            nb::object r = f->obj(*fill_all(targs->obj, xs), **kw->obj);
            return outputs_of("checkpoint", r, &structure->obj);
          };
          auto outs = tessera::checkpoint(inner)(flat);
          return fill_all(structure->obj, outs);
        });
      },
      "fun"_a, nb::sig("def checkpoint(fun: typing.Callable) -> typing.Callable"),
      "fun whose backward pass recomputes its intermediates instead of keeping them.");

  nb::class_<PyCompiled>(m, "_CompiledFunction", nb::type_slots(compiled_slots),
                         "A function compiled by tessera.core.compile.")
      .def("__call__", &PyCompiled::call);
  m.def(
      "compile",
      [](nb::callable fun, nb::object inputs, nb::object outputs, bool shapeless) {
        check_state_tree(inputs, "inputs");
        check_state_tree(outputs, "outputs");
        return PyCompiled{std::move(fun), shapeless, std::move(inputs), std::move(outputs), {}};
      },
      "fun"_a, "inputs"_a = nb::none(), "outputs"_a = nb::none(), "shapeless"_a = false,
      nb::sig("def compile(fun: typing.Callable, inputs: object = None, outputs: object = None, "
              "shapeless: bool = False) -> typing.Callable"),
      "Compiles fun (MLX's mx.compile): traced once per input structure and signature (shapes and "
      "dtypes; only dtypes and ranks with shapeless=True), simplified and fused, then replayed without "
      "calling fun. Non-array arguments are constants of the trace. inputs / outputs: implicit state, "
      "e.g. ``[model.state, optimizer.state]``: trees (lists, dicts) whose arrays fun reads / replaces; "
      "they become inputs / outputs of the compiled graph and are updated in place after each call.");
  m.def("disable_compile", &tessera::disable_compile, "Makes compiled functions call the original function.");
  m.def("enable_compile", &tessera::enable_compile, "Turns compilation back on.");

  nb::class_<CustomFunction>(
      m, "custom_function", nb::type_slots(custom_function_slots),
      "Decorator: a function with custom vjp / jvp / vmap rules, set with the .vjp, .jvp, "
      ".vmap decorators (MLX's mx.custom_function). vjp(primals, cotangents, outputs), "
      "jvp(primals, tangents), vmap(inputs, axes) -> (outputs, axes).")
      .def(nb::init<nb::callable>(), "fun"_a)
      .def("__call__", &CustomFunction::call)
      .def("vjp",
           [](CustomFunction& self, nb::callable f) {
             self.vjp_fn = f;
             return f;
           })
      .def("jvp",
           [](CustomFunction& self, nb::callable f) {
             self.jvp_fn = f;
             return f;
           })
      .def("vmap", [](CustomFunction& self, nb::callable f) {
        self.vmap_fn = f;
        return f;
      });
}
