// Capturing lazy computations as CUDA graphs, in builds without CUDA: never available.
#ifndef TESSERA_CUDA
#include <stdexcept>

#include "tessera/backend/gpu_capture.h"
#include "tessera/scheduler.h"

namespace tessera::gpu {

class CapturedWork {};

bool capture_available() { return false; }

CaptureResult capture_work(const std::function<std::vector<array>()>& build) {
  CaptureResult r;
  r.outputs = build();
  eval(r.outputs);
  r.why_not = "this build has no CUDA backend";
  return r;
}

std::vector<array> launch_work(CapturedWork&, const std::vector<std::pair<array, array>>&) {
  throw std::logic_error("[gpu] launch_work without a captured graph");
}

array device_buffer(const Shape&, Dtype) { throw std::logic_error("[gpu] device_buffer without CUDA"); }
void copy_values(const array&, const array&) { throw std::logic_error("[gpu] copy_values without CUDA"); }

}  // namespace tessera::gpu
#endif
