// CUDA graph replay of compiled functions in builds without CUDA: never taken.
#ifndef TESSERA_CUDA
#include "tessera/compile/gpu_graph.h"

namespace tessera::detail {

class GpuGraphs {};

std::shared_ptr<GpuGraphs> make_gpu_graphs() { return nullptr; }
bool run_gpu_graph(GpuGraphs&, const Tape&, const std::vector<array>&, bool, std::vector<array>&) { return false; }
GpuGraphStats gpu_graph_stats(const GpuGraphs&) { return {}; }
bool cuda_graphs_env_enabled() { return false; }

}  // namespace tessera::detail
#endif
