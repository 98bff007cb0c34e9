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
};

// A compiled function: callable like the original, converts to VecFn.
class CompiledFunction {
 public:
  CompiledFunction(VecFn fun, bool shapeless);
  std::vector<array> operator()(const std::vector<array>& inputs) const;
  CompileInfo info() const;

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
