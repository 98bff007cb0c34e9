// CUDA graph replay of compiled functions (see compile/gpu_graph.h and docs/cuda_backend.md).
//
// Per compile cache entry and exact input shapes: the first graph call copies the inputs into
// graph-owned dense device buffers and runs the replayed tape node by node on this thread (a warm
// run that also JIT-compiles, creates cuBLAS handles and fills the allocator's pool); when every node
// ran a GPU kernel on the one stream without a host copy or synchronization, the same tape is run a
// second time under stream capture (relaxed mode) and instantiated. Every array of the captured run
// and every block freed during it stay alive with the graph. Later calls copy the new inputs into
// the graph's input buffers, launch the graph and copy its outputs into fresh arrays (copy-out keeps
// callers' outputs independent of the next launch, which rewrites the graph's buffers in place).
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <unordered_set>

#include "tessera/backend/cuda/eval_utils.h"
#include "tessera/backend/cuda/graph_nodes.h"
#include "tessera/backend/cuda/runtime.h"
#include "tessera/backend/gpu.h"
#include "tessera/backend/gpu_available.h"
#include "tessera/compile/gpu_graph.h"
#include "tessera/compile/tape.h"
#include "tessera/env.h"
#include "tessera/primitive.h"
#include "tessera/scheduler.h"

namespace tessera::detail {

namespace {

using namespace graph_nodes;

// A compiled tape's graph: graph-owned dense device inputs (the graph reads them) besides the rest.
struct Captured : CapturedGraph {
  std::vector<array> inputs;
};

// The one GPU stream all nodes of the tape run on, or throws NotCapturable.
int tape_stream(const Tape& t) {
  int s = -1;
  for (auto& n : t.nodes) {
    if (n.prim->device() != Device::gpu) throw NotCapturable{std::string(n.prim->name()) + " runs on the CPU"};
    if (s >= 0 && n.prim->stream().index != s) throw NotCapturable{"nodes on several streams"};
    s = n.prim->stream().index;
  }
  if (s < 0) throw NotCapturable{"no node"};
  return s;
}

}  // namespace

class GpuGraphs {
 public:
  std::mutex mu;
  bool disabled = false;  // the tape is not capturable: never try again
  std::map<std::vector<Shape>, std::shared_ptr<Captured>> graphs;
  std::atomic<size_t> captures{0}, replays{0}, fallbacks{0};
};

std::shared_ptr<GpuGraphs> make_gpu_graphs() {
  if (!gpu_is_available()) return nullptr;
  return std::make_shared<GpuGraphs>();
}

GpuGraphStats gpu_graph_stats(const GpuGraphs& g) { return {g.captures.load(), g.replays.load(), g.fallbacks.load()}; }

bool cuda_graphs_env_enabled() {
  static const bool on = env_switch_on("TESSERA_CUDA_GRAPHS");
  return on;
}

namespace {

constexpr size_t kMaxGraphsPerEntry = 16;  // shapeless entries: one graph per exact shapes seen

// Launches `g` on new inputs; outputs are fresh arrays copied out of the graph's buffers.
std::vector<array> launch(Captured& g, const std::vector<array>& inputs, int stream) {
  std::lock_guard lk(g.mu);
  StreamScope scope(stream);
  copy_in(inputs, g.inputs, cuda::current_stream());
  return launch_and_copy_out(g, stream);
}

// Warm run + capture for these inputs; returns the warm run's outputs (this call's results).
std::vector<array> capture(GpuGraphs& gs, const std::vector<Shape>& key, const Tape& tape,
                           const std::vector<array>& inputs, bool shapeless, int stream) {
  synchronize(Stream(stream, Device::gpu));  // the stream's worker is idle: nothing else queues on it while capturing
  StreamScope scope(stream);
  cudaStream_t cs = cuda::current_stream();
  for (auto& [s, c] : tape.constants) {
    if (c.nbytes() > 0) c.device_data();  // uploaded once, before the runs are checked for host copies
  }
  auto g = std::make_shared<Captured>();
  for (auto& x : inputs) g->inputs.push_back(device_array(x));
  copy_in(inputs, g->inputs, cs);

  // Warm run: its outputs are this call's results (views of fresh buffers, independent of the graph).
  const size_t copies0 = cuda::host_copy_count();
  std::vector<array> warm;
  {
    auto outs = replay_tape(tape, g->inputs, shapeless);
    auto all = run_nodes(outs, stream);
    warm = std::move(outs);
  }
  if (cuda::host_copy_count() != copies0) {
    publish(warm, stream);
    throw NotCapturable{"a node copied between host and device or waited for the GPU"};
  }
  publish(warm, stream);

  // Captured run on the same graph-owned inputs.
  capture_into(*g, replay_tape(tape, g->inputs, shapeless), stream);
  std::lock_guard lk(gs.mu);
  if (gs.graphs.size() < kMaxGraphsPerEntry) gs.graphs.emplace(key, std::move(g));
  ++gs.captures;
  return warm;
}

// The tape is not capturable: never try again (TESSERA_CUDA_GRAPHS_DEBUG=1 prints why).
void fallback(GpuGraphs& gs, const std::string& why) {
  if (const char* v = std::getenv("TESSERA_CUDA_GRAPHS_DEBUG"); v && *v && *v != '0') {
    std::fprintf(stderr, "[compile] CUDA graph not used: %s\n", why.c_str());
  }
  std::lock_guard lk(gs.mu);
  gs.disabled = true;
  ++gs.fallbacks;
}

// Whether x is, or is computed lazily from, a transform's tracer (jvp/vjp/vmap/compile inputs are
// marked; arrays derived from them inside the traced function are not, so walk the pending graph).
bool depends_on_tracer(const array& x) {
  std::unordered_set<uintptr_t> seen;
  std::vector<array> stack{x};
  while (!stack.empty()) {
    array a = stack.back();
    stack.pop_back();
    if (a.is_tracer()) return true;
    if (!a.has_primitive() || a.status() == array::Status::available || !seen.insert(a.id()).second) continue;
    for (auto& in : a.inputs()) stack.push_back(in);
  }
  return false;
}

}  // namespace

bool run_gpu_graph(GpuGraphs& gs, const Tape& tape, const std::vector<array>& inputs, bool shapeless,
                   std::vector<array>& outputs) {
  for (auto& x : inputs) {
    // Inside a transform or an outer trace the outputs must stay lazy nodes of the graph.
    if (depends_on_tracer(x)) return false;
  }
  std::vector<Shape> key;
  std::shared_ptr<Captured> g;
  {
    std::lock_guard lk(gs.mu);
    if (gs.disabled) return false;
    for (auto& x : inputs) key.push_back(x.shape());
    auto it = gs.graphs.find(key);
    if (it != gs.graphs.end()) g = it->second;
    else if (gs.graphs.size() >= kMaxGraphsPerEntry) return false;
  }
  int stream = -1;
  try {
    stream = tape_stream(tape);
  } catch (const NotCapturable& e) {
    fallback(gs, e.why);
    return false;
  }
  try {
    order_inputs(inputs, stream);
  } catch (const std::exception&) {
    return false;  // a failed input: the normal replay carries its error to eval
  }
  for (auto& x : inputs) {
    if (!dense(x)) return false;  // flat copies need dense inputs (this call replays normally)
  }
  if (g) {
    outputs = launch(*g, inputs, stream);
    ++gs.replays;
    return true;
  }
  try {
    outputs = capture(gs, key, tape, inputs, shapeless, stream);
    return true;
  } catch (const std::exception& e) {
    // Not capturable, or a kernel failed in the warm run: the normal replay reports such errors.
    fallback(gs, e.what());
    outputs.clear();
    return false;
  } catch (const NotCapturable& e) {
    fallback(gs, e.why);
    outputs.clear();
    return false;
  }
}

}  // namespace tessera::detail
