// CUDA graph capture of a lazy computation (see gpu_capture.h): a warm run evaluated node by node,
// then the same computation built again and captured on the stream; launches copy new input values
// in, replay the graph and copy the outputs out.
#include <unordered_set>

#include "tessera/backend/cuda/eval_utils.h"
#include "tessera/backend/cuda/graph_nodes.h"
#include "tessera/backend/gpu.h"
#include "tessera/backend/gpu_available.h"
#include "tessera/backend/gpu_capture.h"
#include "tessera/device.h"
#include "tessera/scheduler.h"

namespace tessera::gpu {

using namespace detail::graph_nodes;

class CapturedWork : public CapturedGraph {
 public:
  int stream = 0;
};

namespace {

// Uploads every evaluated leaf with host data under `outs` (constants the build created), so that
// capturing makes no host copy.
void upload_leaves(const std::vector<array>& outs) {
  std::unordered_set<uintptr_t> seen;
  std::vector<array> stack(outs.begin(), outs.end());
  while (!stack.empty()) {
    array a = stack.back();
    stack.pop_back();
    if (!seen.insert(a.id()).second) continue;
    if (a.has_primitive() && a.status() == array::Status::unscheduled) {
      for (auto& in : a.inputs()) stack.push_back(in);
    } else if (a.status() == array::Status::available && a.nbytes() > 0) {
      a.device_data();
    }
  }
}

}  // namespace

bool capture_available() { return gpu_is_available(); }

CaptureResult capture_work(const std::function<std::vector<array>()>& build) {
  CaptureResult r;
  const int stream = default_stream(Device::gpu).index;
  synchronize(Stream(stream, Device::gpu));  // the stream's worker is idle: nothing else queues on it
  StreamScope scope(stream);

  // Warm run. A node it cannot run here (a CPU one, another stream) leaves the rest to eval.
  r.outputs = build();
  try {
    upload_leaves(r.outputs);
    auto all = run_nodes(r.outputs, stream);
    publish(r.outputs, stream);
    for (auto& a : all) a.detach();  // the next build's donations see no second owner
  } catch (const NotCapturable& e) {
    eval(r.outputs);
    r.why_not = e.why;
    return r;
  }

  auto g = std::make_shared<CapturedWork>();
  g->stream = stream;
  std::vector<array> outs = build();
  upload_leaves(outs);
  try {
    capture_into(*g, outs, stream);
  } catch (const NotCapturable& e) {
    r.why_not = e.why;
    return r;
  }
  r.graph = std::move(g);
  return r;
}

namespace {

// Copies each pair's value into its input on `stream` (the calling thread's stream must be it).
void copy_pairs(const std::vector<std::pair<array, array>>& inputs, int stream) {
  std::vector<array> from, to;
  for (auto& [dst, src] : inputs) {
    if (dst.shape() != src.shape() || dst.dtype() != src.dtype()) {
      throw std::invalid_argument("[gpu] a value's shape or dtype differs from its graph input's.");
    }
    to.push_back(dst);
    from.push_back(src);
  }
  order_inputs(from, stream);
  for (auto& x : from) {
    if (!dense(x)) x = cuda::contiguous_gpu(x, x.dtype());  // flat copies read dense values
  }
  copy_in(from, to, cuda::current_stream());
}

}  // namespace

array device_buffer(const Shape& shape, Dtype dtype) { return device_array(array(shape, dtype, nullptr, {})); }

void copy_values(const array& dst, const array& src) {
  const int stream = default_stream(Device::gpu).index;
  StreamScope scope(stream);
  copy_pairs({{dst, src}}, stream);
}

std::vector<array> launch_work(CapturedWork& g, const std::vector<std::pair<array, array>>& inputs) {
  std::lock_guard lk(g.mu);
  StreamScope scope(g.stream);
  copy_pairs(inputs, g.stream);
  return launch_and_copy_out(g, g.stream);
}

}  // namespace tessera::gpu
