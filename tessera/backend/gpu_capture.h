// Capturing the GPU work of one lazy computation as a CUDA graph and launching it again with new
// input values (the decode step of tessera/lm/decode_graph.cpp). Builds without CUDA, or without a
// visible GPU, capture nothing.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tessera/array.h"

namespace tessera::gpu {

class CapturedWork;  // a CUDA graph and every buffer it reads or writes (backend/cuda/graph_capture.cpp)

struct CaptureResult {
  std::vector<array> outputs;           // the first build's results, evaluated (this call's answer)
  std::shared_ptr<CapturedWork> graph;  // null when the computation could not be captured
  std::string why_not;                  // the reason, when graph is null
};

// Whether capture_work can capture at all (a CUDA build with a visible GPU).
bool capture_available();

// Calls `build` twice on the default GPU stream. The first computation it returns is evaluated
// normally (a warm run: kernels are compiled, library handles created, the memory pool filled); the
// second, which must be the same computation on the same persistent arrays, is captured as a CUDA
// graph and not run. Host constants the builds create are uploaded before capturing. A computation
// with CPU nodes, several streams, host copies or host waits is not captured (graph null, outputs
// still evaluated). Kernel errors of the warm run propagate.
CaptureResult capture_work(const std::function<std::vector<array>()>& build);

// Copies each (input, value) pair's value into the input (an array the builds read, same shape and
// dtype; a lazy or host value is evaluated/uploaded first), launches the graph and returns fresh
// copies of the captured build's outputs (available in stream order; reading them waits).
std::vector<array> launch_work(CapturedWork& work, const std::vector<std::pair<array, array>>& inputs);

// A fresh device-only array (contents undefined) for a graph input; and dst <- src on the default GPU
// stream (src evaluated or uploaded first; same shape and dtype), in stream order with everything else.
array device_buffer(const Shape& shape, Dtype dtype);
void copy_values(const array& dst, const array& src);

}  // namespace tessera::gpu
