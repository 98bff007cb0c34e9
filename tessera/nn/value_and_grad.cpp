// nn::value_and_grad over the flattened trainable parameters with tessera::value_and_grad.
#include "tessera/nn/value_and_grad.h"

#include "tessera/transforms.h"

namespace tessera::nn {

std::function<std::pair<std::vector<array>, Tree>(const std::vector<array>&)> value_and_grad_aux(Module& model,
                                                                                                 MultiLossFn loss_fn) {
  Module* m = &model;
  return [m, loss_fn](const std::vector<array>& args) {
    FlatTree params = tree_flatten(m->trainable_parameters());
    size_t n = params.size();
    std::vector<array> primals;
    std::vector<int> argnums;
    for (size_t i = 0; i < n; ++i) {
      primals.push_back(params[i].second);
      argnums.push_back(static_cast<int>(i));
    }
    primals.insert(primals.end(), args.begin(), args.end());
    VecFn inner = [m, &params, n, &loss_fn](const std::vector<array>& in) {
      FlatTree traced;
      for (size_t i = 0; i < n; ++i) traced.emplace_back(params[i].first, in[i]);
      m->update(traced, false);
      return loss_fn(std::vector<array>(in.begin() + static_cast<long>(n), in.end()));
    };
    std::pair<std::vector<array>, std::vector<array>> result;
    try {
      if (n == 0) {
        result.first = loss_fn(args);
      } else {
        result = tessera::value_and_grad(inner, argnums)(primals);
      }
    } catch (...) {
      m->update(params, false);
      throw;
    }
    m->update(params, false);
    FlatTree grads;
    for (size_t i = 0; i < n; ++i) grads.emplace_back(params[i].first, result.second[i]);
    return std::make_pair(std::move(result.first), n == 0 ? Tree::dict() : tree_unflatten(grads));
  };
}

std::function<std::pair<array, Tree>(const std::vector<array>&)> value_and_grad(Module& model, LossFn loss_fn) {
  auto f = value_and_grad_aux(model, [loss_fn](const std::vector<array>& args) {
    return std::vector<array>{loss_fn(args)};
  });
  return [f](const std::vector<array>& args) {
    auto [values, grads] = f(args);
    return std::make_pair(values[0], std::move(grads));
  };
}

}  // namespace tessera::nn
