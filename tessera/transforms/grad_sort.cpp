// vjp/jvp rules of sort and partition (routing through the sorting permutation); arg-sorts have none.
#include "tessera/primitives/sort.h"
#include "tessera/transforms/rules_common.h"

namespace tessera {

std::vector<array> Sort::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                             const std::vector<int>&, const std::vector<array>&) {
  const array& x = primals[0];
  return {scatter_add_axis(zeros_like(x), argsort(x, axis_), cotangents[0], axis_)};
}
std::vector<array> Sort::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                             const std::vector<int>&) {
  return {take_along_axis(tangents[0], argsort(primals[0], axis_), axis_)};
}

// Partition's output is a rearrangement of x: value ranks (stable argsorts) pair its positions with x's.
std::vector<array> Partition::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                  const std::vector<int>&, const std::vector<array>& outputs) {
  const array& x = primals[0];
  auto sx = argsort(x, axis_);
  auto sy = argsort(outputs[0], axis_);
  return {scatter_add_axis(zeros_like(x), sx, take_along_axis(cotangents[0], sy, axis_), axis_)};
}
std::vector<array> Partition::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                  const std::vector<int>&) {
  auto& outs = rules::current_outputs(name());
  const array& t = tangents[0];
  auto sx = argsort(primals[0], axis_);
  auto sy = argsort(outs[0], axis_);
  return {put_along_axis(zeros_like(t), sy, take_along_axis(t, sx, axis_), axis_)};
}

#define TESSERA_NO_GRAD(NAME)                                                                              \
  std::vector<array> NAME::vjp(const std::vector<array>& primals, const std::vector<array>&,              \
                               const std::vector<int>& argnums, const std::vector<array>&) {              \
    return rules::zero_cotangents(primals, argnums);                                                       \
  }                                                                                                        \
  std::vector<array> NAME::jvp(const std::vector<array>&, const std::vector<array>&, const std::vector<int>&) { \
    std::vector<array> r;                                                                                  \
    for (auto& o : rules::current_outputs(name())) r.push_back(zeros_like(o));                             \
    return r;                                                                                              \
  }

TESSERA_NO_GRAD(ArgSort)
TESSERA_NO_GRAD(ArgPartition)

}  // namespace tessera
