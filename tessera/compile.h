// compile (MLX's mx.compile): trace a function once per input signature, simplify and fuse the
// traced graph, and replay the cached tape on new inputs.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "tessera/array.h"
#include "tessera/transforms.h"

namespace tessera {

namespace detail {
struct CompileState;
}

// What compile did (a debug accessor for tests and tuning).
struct CompileInfo {
  int traces = 0;               // times the function was traced (one per new input signature)
  size_t traced_nodes = 0;      // nodes of the last trace, before simplification
  size_t simplified_nodes = 0;  // after common-subexpression elimination
  size_t tape_nodes = 0;        // after fusion (what a call replays)
  size_t fused_groups = 0;      // Compiled primitives in the last tape
  size_t cache_entries = 0;     // input signatures seen
  // CUDA graphs (GPU builds; summed over the cache entries): graphs captured, calls served by a
  // graph launch, and tapes found not capturable (they replay normally).
  size_t cuda_graph_captures = 0, cuda_graph_replays = 0, cuda_graph_fallbacks = 0;
};

// A compiled function: callable like the original, converts to VecFn.
class CompiledFunction {
 public:
  CompiledFunction(VecFn fun, bool shapeless);
  std::vector<array> operator()(const std::vector<array>& inputs) const;
  CompileInfo info() const;
  // CUDA graph replay (on by default; env TESSERA_CUDA_GRAPHS=0 turns it off everywhere): from the
  // second call of an input signature, a function that runs wholly on one GPU stream is captured
  // once per exact input shapes and launched; its outputs then come back already evaluated.
  void set_cuda_graphs(bool on);

 private:
  std::shared_ptr<detail::CompileState> state_;
};

// Traces fun once per input signature (shapes and dtypes; with shapeless, dtypes and ranks only).
// Arrays captured by fun (not passed as inputs) are constants of the trace, as in MLX. fun must
// not evaluate arrays while it is traced.
CompiledFunction compile(VecFn fun, bool shapeless = false);

// Globally turn compilation off (compiled functions then just call fun) or back on. The
// environment variable TESSERA_DISABLE_COMPILE (set, not "0") turns it off at start-up.
void disable_compile();
void enable_compile();
bool compile_enabled();

}  // namespace tessera
