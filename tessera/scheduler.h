// Evaluation: orders the graph, runs each primitive on its stream's worker, frees what is done.
#pragma once

#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <vector>

#include "tessera/array.h"
#include "tessera/device.h"

namespace tessera {

// A one-shot completion flag with an optional error. For GPU work the flag means "queued": the
// event also carries a fence (recorded on the GPU stream `fence_stream` after the work) that GPU
// consumers on other streams order after and host consumers wait for.
class Event {
 public:
  void signal(std::exception_ptr err = nullptr);
  void wait();  // blocks until signalled; does not rethrow
  bool is_signaled();
  void set_fence(std::shared_ptr<void> fence, int stream);  // before signal
  std::shared_ptr<void> fence(int* stream);                 // null: no GPU work pending
  void clear_fence(const std::shared_ptr<void>& fence);     // the host saw it reached

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_{false};
  std::shared_ptr<void> fence_;
  int fence_stream_{-1};
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
