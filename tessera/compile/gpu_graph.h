// CUDA graph replay of compiled functions: a tape whose nodes all run on one GPU stream is captured
// once per exact input shapes into a CUDA graph, which later calls launch instead of replaying.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "tessera/array.h"

namespace tessera::detail {

struct Tape;
class GpuGraphs;  // the captured graphs of one compile cache entry (backend/cuda/cuda_graph.cpp)

struct GpuGraphStats {
  size_t captures = 0;   // graphs captured
  size_t replays = 0;    // calls served by launching a captured graph
  size_t fallbacks = 0;  // capture attempts that found the tape not capturable (normal runs after)
};

// The per-entry state; null in builds without CUDA or when no GPU is visible.
std::shared_ptr<GpuGraphs> make_gpu_graphs();
// Runs the tape on `inputs` through a CUDA graph (capturing it first for new input shapes) and
// returns true with evaluated `outputs`; false when the tape is not capturable (CPU nodes, host
// reads, several streams, a failed capture) or the inputs cannot be copied in flat: the caller then
// replays the tape as usual. Never throws for a capture problem; kernel errors propagate.
bool run_gpu_graph(GpuGraphs& graphs, const Tape& tape, const std::vector<array>& inputs, bool shapeless,
                   std::vector<array>& outputs);
GpuGraphStats gpu_graph_stats(const GpuGraphs& graphs);
// False when the environment sets TESSERA_CUDA_GRAPHS=0.
bool cuda_graphs_env_enabled();

}  // namespace tessera::detail
