// nn::Dropout (MLX): zeroes elements with probability p in training mode and scales the rest by 1/(1-p).
#pragma once

#include <optional>

#include "tessera/nn/module.h"

namespace tessera::nn {

class Dropout : public Module {
 public:
  // p in [0, 1) (else "[Dropout] ..."). key: a PRNG key split on every call; without it the global key.
  explicit Dropout(float p = 0.5f, std::optional<array> key = std::nullopt);
  std::string name() const override { return "Dropout"; }
  array operator()(const array& x) override;
  // With an explicit key (the stored key is left alone).
  array operator()(const array& x, const array& key);

 private:
  array apply_mask(const array& x, const std::optional<array>& key);
  float p_1_;  // keep probability
  std::optional<array> key_;
};

}  // namespace tessera::nn
