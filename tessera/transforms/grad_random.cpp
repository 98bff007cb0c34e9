// vjp/jvp rules of the random primitives: samples have no gradient; permutation routes x's gradient.
#include "tessera/primitives/random.h"
#include "tessera/transforms/rules_common.h"

namespace tessera::random {

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

TESSERA_NO_GRAD(RandomBits)
TESSERA_NO_GRAD(RandomMap)
TESSERA_NO_GRAD(Categorical)

// Permutation: inputs bits (n,), x; out = take(x, argsort(bits), axis).
std::vector<array> Permutation::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                    const std::vector<int>& argnums, const std::vector<array>&) {
  auto perm = argsort(primals[0], 0);
  std::vector<array> r;
  for (int a : argnums) {
    r.push_back(a == 1 ? take(cotangents[0], argsort(perm, 0), axis_) : zeros_like(primals[a]));
  }
  return r;
}
std::vector<array> Permutation::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                    const std::vector<int>& argnums) {
  for (size_t j = 0; j < argnums.size(); ++j) {
    if (argnums[j] == 1) return {take(tangents[j], argsort(primals[0], 0), axis_)};
  }
  return {zeros_like(primals[1])};
}

}  // namespace tessera::random
