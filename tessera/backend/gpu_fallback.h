// Debug counters of the CPU fallback on the GPU (Primitive::eval_gpu's default, primitive.cpp): how
// many times each primitive (by name) ran its CPU kernel for a GPU stream since the last reset,
// counting only runs that moved data (a device-only input copied to the host, or an output computed
// into a host buffer of its own); views that share their input's buffer are not counted.
#pragma once

#include <cstddef>
#include <map>
#include <string>

namespace tessera {

size_t gpu_fallback_count(const std::string& name);
std::map<std::string, size_t> gpu_fallback_counts();
void reset_gpu_fallback_counts();

}  // namespace tessera
