// vmap rules of the random primitives: each batch element uses its own key, so the results equal a
// loop over the keys. Bits and permutations run once per key (the Threefry stream depends on the
// key); the bits -> distribution maps and categorical are elementwise over bits and run once.
#include "tessera/primitives/custom_kernel.h"
#include "tessera/primitives/random.h"
#include "tessera/transforms/rules_common.h"

namespace tessera::random {

using VmapOut = std::pair<std::vector<array>, std::vector<int>>;

namespace {
// Runs a fresh copy of the primitive (from make()) on each batch element and stacks the outputs.
VmapOut per_example(const char* name, const std::function<std::shared_ptr<Primitive>()>& make,
                    const std::vector<array>& in, const std::vector<int>& ax) {
  int n = rules::batch_size(in, ax);
  auto& outs = rules::current_outputs(name);
  std::vector<Shape> shapes;
  std::vector<Dtype> dtypes;
  for (auto& o : outs) {
    shapes.push_back(o.shape());
    dtypes.push_back(o.dtype());
  }
  std::vector<std::vector<array>> per(outs.size());
  for (int b = 0; b < n; ++b) {
    std::vector<array> ins;
    for (size_t i = 0; i < in.size(); ++i) ins.push_back(ax[i] < 0 ? in[i] : take(in[i], b, ax[i]));
    auto o = array::make_arrays(shapes, dtypes, make(), ins);
    for (size_t k = 0; k < o.size(); ++k) per[k].push_back(o[k]);
  }
  std::vector<array> r;
  for (size_t k = 0; k < outs.size(); ++k) {
    if (n == 0) {
      Shape s = shapes[k];
      s.insert(s.begin(), 0);
      r.push_back(zeros(s, dtypes[k]));
    } else {
      r.push_back(stack(per[k], 0));
    }
  }
  return {r, std::vector<int>(r.size(), 0)};
}
// Every input with the batch first (unmapped ones broadcast), and the outputs' shapes with n in front.
std::pair<std::vector<array>, std::vector<Shape>> batched(const char* name, const std::vector<array>& in,
                                                         const std::vector<int>& ax) {
  int n = rules::batch_size(in, ax);
  std::vector<array> ins;
  for (size_t i = 0; i < in.size(); ++i) ins.push_back(rules::batch_first(in[i], ax[i], n));
  std::vector<Shape> shapes;
  for (auto& o : rules::current_outputs(name)) {
    Shape s = o.shape();
    s.insert(s.begin(), n);
    shapes.push_back(std::move(s));
  }
  return {ins, shapes};
}
}  // namespace

VmapOut RandomBits::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  return per_example(name(), [this] { return std::make_shared<RandomBits>(stream(), width_); }, in, ax);
}
VmapOut Permutation::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  return per_example(name(), [this] { return std::make_shared<Permutation>(stream(), axis_); }, in, ax);
}
// Inputs: bits and parameters, all of the output's shape.
VmapOut RandomMap::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  auto [ins, shapes] = batched(name(), in, ax);
  auto dt = rules::current_outputs(name())[0].dtype();
  return {{array(shapes[0], dt, std::make_shared<RandomMap>(stream(), kind_, loc_, scale_), ins)}, {0}};
}
// Inputs: bits and logits of the full shape; the sampled axis moves one to the right.
VmapOut Categorical::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  auto [ins, shapes] = batched(name(), in, ax);
  auto dt = rules::current_outputs(name())[0].dtype();
  int axis = axis_ < 0 ? axis_ + in[0].ndim() - (ax[0] >= 0 ? 1 : 0) : axis_;
  return {{array(shapes[0], dt, std::make_shared<Categorical>(stream(), axis + 1), ins)}, {0}};
}

}  // namespace tessera::random

namespace tessera::fast {
std::pair<std::vector<array>, std::vector<int>> CustomKernel::vmap(const std::vector<array>&, const std::vector<int>&) {
  throw std::invalid_argument(
      "[CustomKernel] vmap is not implemented for user CUDA kernels: the kernel's indexing is its own. Write the "
      "kernel over a leading batch dimension, or wrap it in custom_function with a vmap rule.");
}
}  // namespace tessera::fast
