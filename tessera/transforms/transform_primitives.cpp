// StopGradient and CustomTransforms: evaluation (share the input buffer) and their transform rules.
#include "tessera/transforms/transform_primitives.h"

#include "tessera/ops.h"
#include "tessera/transforms/rules_common.h"

namespace tessera {

void StopGradient::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  outputs[0].copy_shared_buffer(inputs[0]);
}
std::vector<array> StopGradient::vjp(const std::vector<array>& primals, const std::vector<array>&,
                                     const std::vector<int>& argnums, const std::vector<array>&) {
  return rules::zero_cotangents(primals, argnums);
}
std::vector<array> StopGradient::jvp(const std::vector<array>& primals, const std::vector<array>&,
                                     const std::vector<int>&) {
  return {zeros_like(primals[0])};
}
std::pair<std::vector<array>, std::vector<int>> StopGradient::vmap(const std::vector<array>& inputs,
                                                                  const std::vector<int>& axes) {
  return {{stop_gradient(inputs[0])}, {axes[0]}};
}

void Depends::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  for (int i = 0; i < n_; ++i) outputs[i].copy_shared_buffer(inputs[i]);
}
std::vector<array> Depends::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                const std::vector<int>& argnums, const std::vector<array>&) {
  std::vector<array> r;
  for (int a : argnums) r.push_back(a < n_ ? cotangents[a] : zeros_like(primals[a]));
  return r;
}
std::vector<array> Depends::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                const std::vector<int>& argnums) {
  std::vector<array> r;
  for (int i = 0; i < n_; ++i) r.push_back(zeros_like(primals[i]));
  for (size_t j = 0; j < argnums.size(); ++j) {
    if (argnums[j] < n_) r[argnums[j]] = tangents[j];
  }
  return r;
}
std::pair<std::vector<array>, std::vector<int>> Depends::vmap(const std::vector<array>& inputs,
                                                             const std::vector<int>& axes) {
  std::vector<array> ins(inputs.begin(), inputs.begin() + n_), deps(inputs.begin() + n_, inputs.end());
  return {depends(ins, deps), std::vector<int>(axes.begin(), axes.begin() + n_)};
}

std::vector<array> depends(const std::vector<array>& inputs, const std::vector<array>& deps) {
  if (deps.empty() || inputs.empty()) return inputs;
  std::vector<Shape> shapes;
  std::vector<Dtype> dtypes;
  for (auto& a : inputs) {
    shapes.push_back(a.shape());
    dtypes.push_back(a.dtype());
  }
  auto all = inputs;
  all.insert(all.end(), deps.begin(), deps.end());
  return array::make_arrays(shapes, dtypes, std::make_shared<Depends>(to_stream({}), static_cast<int>(inputs.size())),
                            all);
}

void CustomTransforms::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  size_t n_in = inputs.size() - num_outputs_;
  for (int i = 0; i < num_outputs_; ++i) outputs[i].copy_shared_buffer(inputs[n_in + i]);
}

std::vector<array> CustomTransforms::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                         const std::vector<int>& argnums, const std::vector<array>& outputs) {
  size_t n_in = primals.size() - num_outputs_;
  std::vector<array> ins(primals.begin(), primals.begin() + n_in);
  std::vector<array> all;
  if (vjp_fn_) {
    all = (*vjp_fn_)(ins, cotangents, outputs);
    if (all.size() != n_in) {
      throw std::invalid_argument("[custom_function] The vjp returned " + std::to_string(all.size()) +
                                  " cotangents for " + std::to_string(n_in) + " inputs.");
    }
  } else {
    all = tessera::vjp(fun_, ins, cotangents).second;
  }
  std::vector<array> out;
  for (int a : argnums) out.push_back(static_cast<size_t>(a) < n_in ? all[a] : zeros_like(primals[a]));
  return out;
}

std::vector<array> CustomTransforms::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                         const std::vector<int>& argnums) {
  size_t n_in = primals.size() - num_outputs_;
  std::vector<array> ins(primals.begin(), primals.begin() + n_in);
  std::vector<array> ts;
  std::vector<int> an;
  for (size_t j = 0; j < argnums.size(); ++j) {
    if (static_cast<size_t>(argnums[j]) < n_in) {
      ts.push_back(tangents[j]);
      an.push_back(argnums[j]);
    }
  }
  if (jvp_fn_) return (*jvp_fn_)(ins, ts, an);
  std::vector<array> full;
  for (auto& p : ins) full.push_back(zeros_like(p));
  for (size_t j = 0; j < an.size(); ++j) full[an[j]] = ts[j];
  return tessera::jvp(fun_, ins, full).second;
}

std::pair<std::vector<array>, std::vector<int>> CustomTransforms::vmap(const std::vector<array>& inputs,
                                                                      const std::vector<int>& axes) {
  size_t n_in = inputs.size() - num_outputs_;
  std::vector<array> ins(inputs.begin(), inputs.begin() + n_in);
  std::vector<int> ax(axes.begin(), axes.begin() + n_in);
  if (vmap_fn_) return (*vmap_fn_)(ins, ax);
  auto outs = tessera::vmap(fun_, ax)(ins);
  return {outs, std::vector<int>(outs.size(), 0)};
}

}  // namespace tessera
