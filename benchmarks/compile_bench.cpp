// gelu and gelu_approx on 16M float32 elements: compiled (fused) vs op by op, median of runs.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

#include "tessera/tessera.h"

using namespace tessera;

namespace {

template <typename F>
double median_seconds(F&& f, int reps) {
  f();  // warmup
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

array gelu(const array& x) {
  return multiply(multiply(x, array(0.5f)), add(array(1.0f), erf(divide(x, array(std::sqrt(2.0f))))));
}

// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
array gelu_approx(const array& x) {
  auto inner = multiply(array(0.7978845608f), add(x, multiply(array(0.044715f), multiply(x, square(x)))));
  return multiply(multiply(array(0.5f), x), add(array(1.0f), tanh(inner)));
}

void bench(const char* name, array (*fn)(const array&), const array& x, int reps) {
  VecFn f = [fn](const std::vector<array>& a) { return std::vector<array>{fn(a[0])}; };
  auto c = compile(f);
  double plain = median_seconds([&] { f({x})[0].eval(); }, reps);
  double fused = median_seconds([&] { c({x})[0].eval(); }, reps);
  auto diff = max(abs(subtract(f({x})[0], c({x})[0]))).item<float>();
  std::printf("%-12s n=%zu  op-by-op %.2f ms  compiled %.2f ms  speedup %.2fx  (max |diff| %.2g, %zu fused groups)\n",
              name, x.size(), plain * 1e3, fused * 1e3, plain / fused, diff, c.info().fused_groups);
}

}  // namespace

int main() {
  const int n = 16 * 1024 * 1024;
  auto x = random::normal({n});
  x.eval();
  bench("gelu", gelu, x, 9);
  bench("gelu_approx", gelu_approx, x, 9);
  return 0;
}
