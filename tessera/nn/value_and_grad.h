// nn::value_and_grad (MLX): loss and gradients with respect to a module's trainable parameters.
#pragma once

#include <functional>
#include <utility>
#include <vector>

#include "tessera/nn/module.h"
#include "tessera/tree.h"

namespace tessera::nn {

using LossFn = std::function<array(const std::vector<array>& args)>;
// The returned function calls loss_fn(args) with the model's trainable parameters traced and returns
// (loss, gradient tree shaped like model.trainable_parameters()). The model is updated with tracer
// arrays during the call and restored afterwards (also when loss_fn throws). The model must outlive it.
std::function<std::pair<array, Tree>(const std::vector<array>&)> value_and_grad(Module& model, LossFn loss_fn);

// loss_fn returns the loss first and auxiliary outputs after it (returned as they are).
using MultiLossFn = std::function<std::vector<array>(const std::vector<array>& args)>;
std::function<std::pair<std::vector<array>, Tree>(const std::vector<array>&)> value_and_grad_aux(Module& model,
                                                                                                 MultiLossFn loss_fn);

}  // namespace tessera::nn
