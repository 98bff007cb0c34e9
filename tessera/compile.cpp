// compile: the per-function cache of traced tapes keyed by input signature, and the global switch.
#include "tessera/compile.h"

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "tessera/compile/gpu_graph.h"
#include "tessera/compile/tape.h"

namespace tessera {

namespace {

std::atomic<bool>& enabled_flag() {
  static std::atomic<bool> flag([] {
    const char* v = std::getenv("TESSERA_DISABLE_COMPILE");
    return v == nullptr || std::string(v).empty() || std::string(v) == "0";
  }());
  return flag;
}

// Signature of one input: dtype and shape (shapeless: the rank only).
using Signature = std::vector<std::pair<int, Shape>>;

}  // namespace

namespace detail {

struct CompileEntry {
  Tape tape;
  size_t traced_nodes = 0, simplified_nodes = 0, fused_groups = 0;
  std::atomic<size_t> calls{0};
  std::shared_ptr<GpuGraphs> gpu_graphs;  // CUDA graphs of this tape (null without a GPU)
};

struct CompileState {
  VecFn fun;
  bool shapeless;
  std::mutex mu;
  std::map<Signature, std::shared_ptr<CompileEntry>> cache;
  int traces = 0;
  std::shared_ptr<CompileEntry> last;
  std::atomic<bool> cuda_graphs{true};
};

}  // namespace detail

void disable_compile() { enabled_flag() = false; }
void enable_compile() { enabled_flag() = true; }
bool compile_enabled() { return enabled_flag(); }

CompiledFunction::CompiledFunction(VecFn fun, bool shapeless) : state_(std::make_shared<detail::CompileState>()) {
  if (!fun) throw std::invalid_argument("[compile] Got an empty function.");
  state_->fun = std::move(fun);
  state_->shapeless = shapeless;
}

CompiledFunction compile(VecFn fun, bool shapeless) { return CompiledFunction(std::move(fun), shapeless); }

std::vector<array> CompiledFunction::operator()(const std::vector<array>& inputs) const {
  auto& st = *state_;
  if (!compile_enabled()) return st.fun(inputs);
  Signature sig;
  for (auto& in : inputs) {
    Shape s = st.shapeless ? Shape{static_cast<ShapeElem>(in.ndim())} : in.shape();
    sig.emplace_back(static_cast<int>(in.dtype().val), std::move(s));
  }
  std::shared_ptr<detail::CompileEntry> entry;
  {
    std::lock_guard<std::mutex> lock(st.mu);
    auto it = st.cache.find(sig);
    if (it != st.cache.end()) entry = it->second;
  }
  if (!entry) {
    entry = std::make_shared<detail::CompileEntry>();
    entry->tape = detail::trace_tape(st.fun, inputs);
    entry->traced_nodes = entry->tape.nodes.size();
    detail::simplify_tape(entry->tape);
    entry->simplified_nodes = entry->tape.nodes.size();
    entry->fused_groups = detail::fuse_tape(entry->tape);
    entry->gpu_graphs = detail::make_gpu_graphs();
    std::lock_guard<std::mutex> lock(st.mu);
    st.cache[sig] = entry;
    ++st.traces;
    st.last = entry;
  }
  // From the second call of a signature on, a tape that runs wholly on one GPU stream is captured
  // as a CUDA graph and launched (gpu_graph.h); anything else replays lazily.
  if (entry->calls.fetch_add(1) >= 1 && st.cuda_graphs.load() && detail::cuda_graphs_env_enabled()) {
    std::vector<array> outs;
    if (entry->gpu_graphs && detail::run_gpu_graph(*entry->gpu_graphs, entry->tape, inputs, st.shapeless, outs)) {
      return outs;
    }
  }
  return detail::replay_tape(entry->tape, inputs, st.shapeless);
}

void CompiledFunction::set_cuda_graphs(bool on) { state_->cuda_graphs = on; }

CompileInfo CompiledFunction::info() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  CompileInfo i;
  i.traces = state_->traces;
  i.cache_entries = state_->cache.size();
  if (auto& e = state_->last) {
    i.traced_nodes = e->traced_nodes;
    i.simplified_nodes = e->simplified_nodes;
    i.tape_nodes = e->tape.nodes.size();
    i.fused_groups = e->fused_groups;
  }
  for (auto& [sig, e] : state_->cache) {
    if (!e->gpu_graphs) continue;
    auto g = detail::gpu_graph_stats(*e->gpu_graphs);
    i.cuda_graph_captures += g.captures;
    i.cuda_graph_replays += g.replays;
    i.cuda_graph_fallbacks += g.fallbacks;
  }
  return i;
}

}  // namespace tessera
