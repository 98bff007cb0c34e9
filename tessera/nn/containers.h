// nn::Sequential (MLX): calls its "layers" in order.
#pragma once

#include <vector>

#include "tessera/nn/module.h"

namespace tessera::nn {

class Sequential : public Module {
 public:
  explicit Sequential(std::vector<ModulePtr> layers = {});
  std::string name() const override { return "Sequential"; }
  array operator()(const array& x) override;
  // The layers (registered as the module list "layers"; parameter names "layers.<i>.<name>").
  const std::vector<ModulePtr>& layers() const;
};

}  // namespace tessera::nn
