// Pieces shared by the CUDA graph captures (compiled tapes in cuda_graph.cpp, lazy computations in
// graph_capture.cpp): running a lazy graph node by node on this thread, capturing that run as a
// graph, launching it, publishing results, and copying inputs into graph-owned buffers.
#pragma once

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "tessera/array.h"
#include "tessera/backend/cuda/runtime.h"

namespace tessera::detail::graph_nodes {

// A reason a computation cannot be captured (turns into a normal run, never reaches the user).
struct NotCapturable {
  std::string why;
};

// A captured CUDA graph and every buffer it uses.
struct CapturedGraph {
  cudaGraphExec_t exec = nullptr;
  std::vector<array> outputs;                  // dense device arrays the graph writes
  std::vector<array> keep;                     // every array of the captured run (buffers the graph uses)
  std::vector<std::pair<void*, size_t>> held;  // blocks freed while capturing (kernel scratch)
  std::mutex mu;                               // one launch (copy-in, graph, copy-out) at a time
  CapturedGraph() = default;
  CapturedGraph(const CapturedGraph&) = delete;
  CapturedGraph& operator=(const CapturedGraph&) = delete;
  ~CapturedGraph();  // an in-flight launch completes first (the graph is freed asynchronously)
};

// Sets the calling thread's GPU stream for a scope; at its end frees are no longer held either.
struct StreamScope {
  int prev;
  explicit StreamScope(int stream);
  ~StreamScope();
  StreamScope(const StreamScope&) = delete;
  StreamScope& operator=(const StreamScope&) = delete;
};

// Captures the evaluation of the lazy `outs` (built beforehand, their host constants uploaded) on
// `stream`, the calling thread's stream, into g (exec, outputs, keep, held); nothing runs. Throws
// NotCapturable when the run fails, copies between host and device, or the capture or
// instantiation fails.
void capture_into(CapturedGraph& g, const std::vector<array>& outs, int stream);
// Launches g on the calling thread's stream and returns fresh copies of its outputs, published on
// `stream` (copy-out keeps them independent of the next launch, which rewrites the graph's buffers).
std::vector<array> launch_and_copy_out(CapturedGraph& g, int stream);

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
