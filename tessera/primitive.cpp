// Default behaviour of primitives: clear errors where a backend or a transform is missing.
#include "tessera/primitive.h"

#include <mutex>

#include "tessera/backend/gpu_fallback.h"

namespace tessera {

// CPU fallback for primitives without a CUDA kernel: the CPU code reads its inputs through
// array::data(), which copies device-only buffers to the host first (views never touch data, so
// they move nothing); its outputs are host buffers that GPU kernels upload when they read them.
namespace {
std::mutex& fallback_mutex() {
  static std::mutex m;
  return m;
}
std::map<std::string, size_t>& fallback_counts() {
  static std::map<std::string, size_t> counts;
  return counts;
}
}  // namespace

size_t gpu_fallback_count(const std::string& name) {
  std::lock_guard<std::mutex> lock(fallback_mutex());
  auto it = fallback_counts().find(name);
  return it == fallback_counts().end() ? 0 : it->second;
}

std::map<std::string, size_t> gpu_fallback_counts() {
  std::lock_guard<std::mutex> lock(fallback_mutex());
  return fallback_counts();
}

void reset_gpu_fallback_counts() {
  std::lock_guard<std::mutex> lock(fallback_mutex());
  fallback_counts().clear();
}

// A run of the CPU kernel counts as a fallback when it moved data: an input only valid on the device
// was copied to the host, or an output got a host buffer of its own (computed on the CPU, uploaded
// when a GPU kernel reads it). Views (Broadcast, Slice, Transpose, Reshape without a copy, ...) share
// their input's buffer, touch no data and are not counted.
void Primitive::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  std::vector<const array::Data*> on_device;  // inputs whose valid copy is only on the device
  for (auto& x : inputs) {
    auto& d = x.data_shared_ptr();
    if (d && !d->host_valid.load(std::memory_order_acquire)) on_device.push_back(d.get());
  }
  eval_cpu(inputs, outputs);
  bool moved = false;
  for (auto* d : on_device) moved |= d->host_valid.load(std::memory_order_acquire);
  for (auto& o : outputs) {
    auto& d = o.data_shared_ptr();
    if (!d) continue;
    bool shared = false;
    for (auto& x : inputs) shared |= x.data_shared_ptr() == d;
    moved |= !shared;
  }
  if (moved) {
    std::lock_guard<std::mutex> lock(fallback_mutex());
    ++fallback_counts()[name()];
  }
}

std::vector<array> Primitive::vjp(const std::vector<array>&, const std::vector<array>&,
                                  const std::vector<int>&, const std::vector<array>&) {
  throw std::invalid_argument(std::string("[") + name() + "] vjp is not implemented.");
}

std::vector<array> Primitive::jvp(const std::vector<array>&, const std::vector<array>&,
                                  const std::vector<int>&) {
  throw std::invalid_argument(std::string("[") + name() + "] jvp is not implemented.");
}

std::pair<std::vector<array>, std::vector<int>> Primitive::vmap(const std::vector<array>&,
                                                                const std::vector<int>&) {
  throw std::invalid_argument(std::string("[") + name() + "] vmap is not implemented.");
}

std::vector<Shape> Primitive::output_shapes(const std::vector<array>&) {
  throw std::invalid_argument(std::string("[") + name() + "] cannot infer output shapes (shapeless compile).");
}

}  // namespace tessera
