// Helpers shared by the transform rules.
#include "tessera/transforms/rules_common.h"

namespace tessera::rules {

array sum_to_shape(const array& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  int lead = x.ndim() - static_cast<int>(shape.size());
  std::vector<int> axes;
  for (int i = 0; i < x.ndim(); ++i) {
    if (i < lead || (shape[i - lead] == 1 && x.shape(i) != 1)) axes.push_back(i);
  }
  auto s = sum(x, axes, true);
  return reshape(s, shape);
}

array tangent_of(int i, const std::vector<array>& primals, const std::vector<array>& tangents,
                 const std::vector<int>& argnums) {
  for (size_t j = 0; j < argnums.size(); ++j) {
    if (argnums[j] == i) return tangents[j];
  }
  return zeros_like(primals[i]);
}

std::vector<array> zero_cotangents(const std::vector<array>& primals, const std::vector<int>& argnums) {
  std::vector<array> out;
  for (int a : argnums) out.push_back(zeros_like(primals[a]));
  return out;
}

std::vector<array> composite_vjp(const VecFn& f, const std::vector<array>& primals,
                                 const std::vector<array>& cotangents, const std::vector<int>& argnums) {
  std::vector<array> ps;
  for (int a : argnums) ps.push_back(primals[a]);
  auto g = [&](const std::vector<array>& x) {
    auto args = primals;
    for (size_t j = 0; j < argnums.size(); ++j) args[argnums[j]] = x[j];
    return f(args);
  };
  return vjp(g, ps, cotangents).second;
}

std::vector<array> composite_jvp(const VecFn& f, const std::vector<array>& primals, const std::vector<array>& tangents,
                                 const std::vector<int>& argnums) {
  std::vector<array> ps;
  for (int a : argnums) ps.push_back(primals[a]);
  auto g = [&](const std::vector<array>& x) {
    auto args = primals;
    for (size_t j = 0; j < argnums.size(); ++j) args[argnums[j]] = x[j];
    return f(args);
  };
  return jvp(g, ps, tangents).second;
}

array batch_first(const array& x, int ax, int n) {
  if (ax >= 0) return ax == 0 ? x : moveaxis(x, ax, 0);
  Shape s = x.shape();
  s.insert(s.begin(), n);
  return broadcast_to(expand_dims(x, 0), s);
}

int batch_size(const std::vector<array>& inputs, const std::vector<int>& axes) {
  int n = -1;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (axes[i] < 0) continue;
    int m = inputs[i].shape(axes[i]);
    if (n >= 0 && m != n) throw std::invalid_argument("[vmap] Inconsistent sizes of the mapped axes.");
    n = m;
  }
  return n;
}

}  // namespace tessera::rules

namespace tessera::rules {
namespace {
thread_local const std::vector<array>* g_current_outputs = nullptr;
}
const std::vector<array>& current_outputs(const char* name) {
  if (!g_current_outputs) {
    throw std::invalid_argument(std::string("[") + name + "] This rule must be called by tessera::jvp or tessera::vmap (needs the outputs).");
  }
  return *g_current_outputs;
}
CurrentOutputs::CurrentOutputs(const std::vector<array>* outs) : prev(g_current_outputs) { g_current_outputs = outs; }
CurrentOutputs::~CurrentOutputs() { g_current_outputs = prev; }
}  // namespace tessera::rules
