// Pieces shared by the CUDA graph captures (compiled tapes in cuda_graph.cpp, lazy computations in
// graph_capture.cpp): running a lazy graph node by node on this thread, publishing results, and
// copying inputs into graph-owned buffers.
#pragma once

#include <string>
#include <vector>

#include "tessera/array.h"
#include "tessera/backend/cuda/runtime.h"

namespace tessera::detail::graph_nodes {

// A reason a computation cannot be captured (turns into a normal run, never reaches the user).
struct NotCapturable {
  std::string why;
};

// Row-contiguous with no gaps (a flat copy reads it whole).
bool dense(const array& a);
// A fresh, evaluated, device-only array of like's shape and dtype.
array device_array(const array& like);
// Marks `outs` available with a fence after the work queued so far on `stream`: GPU consumers on
// other streams order after it, host readers wait for it.
void publish(std::vector<array>& outs, int stream);
// Runs the lazy graph behind `outs` on this thread in topological order, each node's eval_gpu on
// the current CUDA stream; returns every node evaluated. A node on another stream or device, or an
// output without a device buffer (a CPU fallback), throws NotCapturable.
std::vector<array> run_nodes(const std::vector<array>& outs, int stream);
// Inputs ready for GPU reads on `stream`: lazy ones scheduled, producers on other streams ordered.
void order_inputs(const std::vector<array>& inputs, int stream);
// to[i] <- from[i] (flat device copies on cs; a host `from` is uploaded first).
void copy_in(const std::vector<array>& from, const std::vector<array>& to, cudaStream_t cs);

}  // namespace tessera::detail::graph_nodes
