// nn::Dropout.
#include "tessera/nn/dropout.h"

#include <stdexcept>

#include "tessera/nn/functional.h"
#include "tessera/ops.h"
#include "tessera/random.h"

namespace tessera::nn {

Dropout::Dropout(float p, std::optional<array> key) : p_1_(1.0f - p), key_(std::move(key)) {
  if (!(p >= 0.0f && p < 1.0f)) {
    throw std::invalid_argument("[Dropout] the probability should be in [0, 1), got " + std::to_string(p) +
                                ".");
  }
}

array Dropout::apply_mask(const array& x, const std::optional<array>& key) {
  if (p_1_ == 1.0f || !training()) return x;
  return functional::dropout(x, 1.0f - p_1_, key);
}

array functional::dropout(const array& x, float p, const std::optional<array>& key) {
  if (!(p >= 0.0f && p < 1.0f)) {
    throw std::invalid_argument("[nn] dropout: the probability should be in [0, 1), got " +
                                std::to_string(p) + ".");
  }
  if (p == 0.0f) return x;
  float keep = 1.0f - p;
  auto mask = random::bernoulli(keep, x.shape(), key);
  Dtype d = is_floating_point(x.dtype()) ? x.dtype() : float32;
  return multiply(multiply(astype(mask, d), x), array(1.0 / keep, d));
}

array Dropout::operator()(const array& x) {
  if (key_ && training() && p_1_ != 1.0f) {
    auto [next, sub] = random::split(*key_);
    key_ = next;
    return apply_mask(x, sub);
  }
  return apply_mask(x, std::nullopt);
}

array Dropout::operator()(const array& x, const array& key) { return apply_mask(x, key); }

}  // namespace tessera::nn
