// Per-primitive profile of eval (env TESSERA_PROFILE=1): host time in each primitive's eval and, for
// GPU nodes, the device time between CUDA events recorded around its kernels; printed at exit.
#pragma once

#include <string>

#include "tessera/backend/gpu.h"

namespace tessera::profiler {

// Whether TESSERA_PROFILE is set (read once) or set_enabled turned it on.
bool enabled();
void set_enabled(bool on);
// One evaluated node: its primitive's name, the host microseconds of its eval and, for a GPU node,
// timing marks before and after its kernels (null otherwise).
void record(const char* name, double host_us, gpu::TimingMark before, gpu::TimingMark after);
// A table of the records so far, one line per primitive name sorted by device time (waits for the
// GPU to reach the marks); "" when nothing was recorded.
std::string report();
// Host time of a named region inside an eval (recorded when profiling is on), e.g. to split a slow
// primitive's host cost: `profiler::Scope s("sdpa.malloc");`.
class Scope {
 public:
  explicit Scope(const char* name);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  const char* name_;
  long long t0_ns_;
};
void reset();

}  // namespace tessera::profiler
