// Evaluation: orders the graph, runs each primitive on its stream's worker, frees what is done.
#pragma once

#include <condition_variable>
#include <exception>
#include <mutex>
#include <vector>

#include "tessera/array.h"
#include "tessera/device.h"

namespace tessera {

// A one-shot completion flag with an optional error.
class Event {
 public:
  void signal(std::exception_ptr err = nullptr);
  void wait();  // blocks until signalled; does not rethrow
  bool is_signaled();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_{false};
};

// Computes the arrays (and everything they need); rethrows the first error of a requested array.
void eval(std::vector<array> outputs);
template <typename... Arrays>
void eval(Arrays&&... outputs) {
  eval(std::vector<array>{std::forward<Arrays>(outputs)...});
}
// Schedules the computation and returns at once; reading the data (or eval) waits for it.
void async_eval(std::vector<array> outputs);
// Waits for a scheduled array; rethrows its error.
void wait_for(const array& a);

namespace scheduler {
// Number of worker threads the CPU kernels split large work over (default: all cores).
int num_threads();
void set_num_threads(int n);
}  // namespace scheduler

}  // namespace tessera
