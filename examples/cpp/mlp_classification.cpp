// Trains an MLP on a synthetic 2-D classification task with SGD and with Adam; prints test accuracy.
#include <chrono>
#include <cstdio>

#include "examples/cpp/mlp_classification.h"

int main() {
  using namespace tessera;
  for (int which = 0; which < 2; ++which) {
    auto t0 = std::chrono::steady_clock::now();
    std::unique_ptr<optimizers::Optimizer> opt;
    if (which == 0) opt = std::make_unique<optimizers::SGD>(0.1f, 0.9f);
    else opt = std::make_unique<optimizers::Adam>(0.01f);
    std::printf("== %s ==\n", opt->name().c_str());
    double acc = examples::train_mlp(*opt, 400, true);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s: test accuracy %.2f%% in %.1f s\n", opt->name().c_str(), 100 * acc, secs);
  }
}
