// A shared pool of CPU threads and parallel_for, used by kernels to split large work.
#pragma once

#include <cstddef>
#include <functional>

namespace tessera::cpu {

int pool_size();
void set_pool_size(int n);

// Calls f(begin, end) on disjoint chunks covering [0, n). Runs inline when n < grain or with one
// thread. `grain` is the smallest chunk worth a thread (in iterations).
void parallel_for(size_t n, size_t grain, const std::function<void(size_t, size_t)>& f);

}  // namespace tessera::cpu
