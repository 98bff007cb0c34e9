// Example/test helper: an MLP trained on a synthetic 2-D classification task (points inside a circle vs
// outside) with tessera::nn and an optimizer; returns the test accuracy.
#pragma once

#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <vector>

#include "tessera/nn.h"
#include "tessera/optimizers.h"
#include "tessera/tessera.h"

namespace tessera::examples {

struct Dataset2D {
  array x;  // (n, 2) float32
  array y;  // (n,) int32
};

// Points uniform in [-1, 1]^2, class 1 when x^2 + y^2 < 0.5.
inline Dataset2D make_circles(int n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> xs(2 * n);
  std::vector<int> ys(n);
  for (int i = 0; i < n; ++i) {
    float a = u(gen), b = u(gen);
    xs[2 * i] = a;
    xs[2 * i + 1] = b;
    ys[i] = a * a + b * b < 0.5f ? 1 : 0;
  }
  return {array(xs, {n, 2}), array(ys, {n})};
}

inline std::shared_ptr<nn::Sequential> make_mlp(int hidden) {
  return std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
      std::make_shared<nn::Linear>(2, hidden), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(hidden, hidden),
      std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(hidden, 2)});
}

inline void eval_tree_and_state(const Tree& params, const optimizers::Optimizer& opt) {
  std::vector<array> outs = opt.state_arrays();
  for (auto& [k, a] : tree_flatten(params)) outs.push_back(a);
  eval(outs);
}

// Full-batch training for `steps` steps; returns the accuracy on a held-out set.
inline double train_mlp(optimizers::Optimizer& opt, int steps, bool verbose = false) {
  random::seed(0);
  auto train = make_circles(1000, 1), test = make_circles(500, 2);
  auto model = make_mlp(32);
  auto loss_and_grad = nn::value_and_grad(*model, [&](const std::vector<array>& a) {
    return nn::losses::cross_entropy((*model)(a[0]), a[1], std::nullopt, -1, 0.0f, "mean");
  });
  for (int s = 0; s < steps; ++s) {
    auto [loss, grads] = loss_and_grad({train.x, train.y});
    opt.update(*model, grads);
    eval_tree_and_state(model->parameters(), opt);
    if (verbose && (s % 100 == 0 || s + 1 == steps)) std::printf("step %4d  loss %.4f\n", s, loss.item<float>());
  }
  auto pred = argmax((*model)(test.x), -1);
  return mean(astype(equal(astype(pred, int32), test.y), float32)).item<float>();
}

}  // namespace tessera::examples
