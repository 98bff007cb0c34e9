// Default device and stream bookkeeping.
#include "tessera/device.h"

#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "tessera/backend/gpu_available.h"

namespace tessera {

namespace {
struct DeviceState {
  std::mutex mu;
  Device default_device{gpu_is_available() ? Device::gpu : Device::cpu};
  std::vector<Stream> streams;        // index -> stream
  std::vector<int> default_stream_of;  // per device type: index of its default stream
  DeviceState() {
    streams.emplace_back(0, Device::cpu);
    streams.emplace_back(1, Device::gpu);
    default_stream_of = {0, 1};
  }
};
DeviceState& state() {
  static auto* s = new DeviceState();
  return *s;
}
int type_index(Device d) { return d.type == Device::cpu ? 0 : 1; }
}  // namespace

bool is_available(const Device& d) {
  if (d.type == Device::cpu) return true;
  return gpu_is_available();
}

const Device& default_device() {
  auto& s = state();
  std::lock_guard lk(s.mu);
  return s.default_device;
}

void set_default_device(const Device& d) {
  if (!is_available(d)) {
    throw std::invalid_argument(
        "[set_default_device] no GPU is available (tessera was built without CUDA or no device is visible).");
  }
  auto& s = state();
  std::lock_guard lk(s.mu);
  s.default_device = d;
}

Stream default_stream(Device d) {
  if (!is_available(d)) {
    throw std::invalid_argument("[default_stream] no GPU is available.");
  }
  auto& s = state();
  std::lock_guard lk(s.mu);
  return s.streams[s.default_stream_of[type_index(d)]];
}

void set_default_stream(Stream st) {
  auto& s = state();
  std::lock_guard lk(s.mu);
  s.default_stream_of[type_index(st.device)] = st.index;
}

Stream new_stream(Device d) {
  if (!is_available(d)) throw std::invalid_argument("[new_stream] no GPU is available.");
  auto& s = state();
  std::lock_guard lk(s.mu);
  Stream st(static_cast<int>(s.streams.size()), d);
  s.streams.push_back(st);
  return st;
}

Stream to_stream(const StreamOrDevice& s) {
  switch (s.kind) {
    case StreamOrDevice::Kind::stream: return s.stream;
    case StreamOrDevice::Kind::device: return default_stream(s.device);
    default: return default_stream(default_device());
  }
}

std::ostream& operator<<(std::ostream& os, const Device& d) {
  return os << "Device(" << (d.type == Device::cpu ? "cpu" : "gpu") << ", " << d.index << ")";
}
std::ostream& operator<<(std::ostream& os, const Stream& s) {
  return os << "Stream(" << s.device << ", " << s.index << ")";
}

}  // namespace tessera
