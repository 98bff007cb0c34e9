// A shared pool of CPU threads and parallel_for, used by kernels to split large work.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <utility>

namespace tessera::cpu {

int pool_size();
void set_pool_size(int n);

// Splits [0, n) into chunks of at least `grain` over the pool (see parallel_for).
void parallel_for_pool(size_t n, size_t grain, const std::function<void(size_t, size_t)>& f);

// Calls f(begin, end) on disjoint chunks covering [0, n). Runs inline, without touching the pool
// or allocating, when n < 2 * grain or with one thread. `grain` is the smallest chunk worth a
// thread (in iterations).
template <typename F>
inline void parallel_for(size_t n, size_t grain, F&& f) {
  if (n == 0) return;
  if (n < 2 * std::max<size_t>(grain, 1) || pool_size() <= 1) {
    f(size_t(0), n);
    return;
  }
  // std::ref keeps the std::function in its small buffer (no heap allocation for the closure).
  parallel_for_pool(n, grain, std::function<void(size_t, size_t)>(std::ref(f)));
}

}  // namespace tessera::cpu
