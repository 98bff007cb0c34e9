// The compiled tape: a flat, value-indexed list of primitive applications (internal to compile).
//
// Every array of a trace is a numbered value slot; a node reads slots and writes slots. Replay walks
// the nodes once and builds fresh lazy arrays, so a call costs one graph build plus the usual eval.
// CUDA graphs: because the tape is a fixed sequence of (primitive, input slots, output slots) with
// shapes fixed per signature (non-shapeless), a CUDA backend can record one graph per cache entry
// (stream capture around the eval of the replayed outputs, with slot buffers allocated once and kept
// in the entry), then on later calls copy the new inputs into the input slots' buffers and launch
// the graph instead of replaying; Compiled nodes become one kernel node each.
#pragma once

#include <memory>
#include <vector>

#include "tessera/array.h"
#include "tessera/primitive.h"

namespace tessera::detail {

struct TapeNode {
  std::shared_ptr<Primitive> prim;
  std::vector<int> inputs;   // value slots read
  std::vector<int> outputs;  // value slots written (sibling order)
  std::vector<Shape> shapes;  // traced output shapes
  std::vector<Dtype> dtypes;
};

struct Tape {
  int num_values = 0;
  std::vector<int> inputs;                        // slot of each function input
  std::vector<Dtype> input_dtypes;
  std::vector<Shape> input_shapes;                // traced shapes of the inputs
  std::vector<std::pair<int, array>> constants;   // captured arrays (leaves with data)
  std::vector<TapeNode> nodes;                    // topological order
  std::vector<int> outputs;                       // slot of each function output
};

// Traces fun on placeholders shaped like `inputs` and records the tape.
Tape trace_tape(const std::function<std::vector<array>(const std::vector<array>&)>& fun,
                const std::vector<array>& inputs);
// Common-subexpression elimination (is_equivalent primitives on identical inputs, equal constant
// scalars) and removal of nodes no output needs.
void simplify_tape(Tape& tape);
// Fusion of elementwise chains into Compiled primitives (CPU: float32; GPU: float32/16/bf16 when
// NVRTC is available); returns the number of groups.
size_t fuse_tape(Tape& tape);
// Builds the lazy graph of the tape on `inputs`. shapeless: output shapes are inferred.
std::vector<array> replay_tape(const Tape& tape, const std::vector<array>& inputs, bool shapeless);

}  // namespace tessera::detail
