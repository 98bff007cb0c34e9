// Internal to cudnn_*.cpp (needs the cudnn-frontend headers): the cache of built cuDNN graphs and
// their execution on a tessera stream with workspace from the device pool.
#pragma once

#ifdef TESSERA_CUDNN_FRONTEND

#include <cudnn_frontend.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "tessera/backend/cuda/kernels.h"

namespace tessera::cuda {

namespace fe = cudnn_frontend;

// A built graph (null when cuDNN could not support it: the caller falls back) and its workspace.
struct CudnnGraph {
  std::shared_ptr<fe::graph::Graph> graph;
  int64_t workspace = 0;
};

// The graph cached under `key` (the current device is added to it), made by `make` and built on
// first use. `exact_f32` drops engines that round float32 inputs (TF32 tensor cores). Null when
// cuDNN is unavailable or the graph is unsupported (tried once per key).
std::shared_ptr<const CudnnGraph> cudnn_graph(const std::string& key,
                                              const std::function<std::shared_ptr<fe::graph::Graph>()>& make,
                                              bool exact_f32);

// Launches g on stream st with the device pointers of `pack` (tensor uid -> pointer). False (and a
// message when TESSERA_CUDNN_VERBOSE is set) when cuDNN refused it.
bool cudnn_execute(const CudnnGraph& g, std::unordered_map<int64_t, void*>& pack, cudaStream_t st);

// Counters of cudnn.h's CudnnStats.
enum class CudnnCounter { sdpa_run, sdpa_declined, conv_run, conv_declined };
void cudnn_count(CudnnCounter c);

inline fe::DataType_t cudnn_io_type(int dt) {
  return dt == dt_f16 ? fe::DataType_t::HALF : dt == dt_bf16 ? fe::DataType_t::BFLOAT16 : fe::DataType_t::FLOAT;
}

inline bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace tessera::cuda

#endif  // TESSERA_CUDNN_FRONTEND
