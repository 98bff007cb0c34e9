// Devices (cpu, gpu) and streams: where and in which order primitives run.
#pragma once

#include <ostream>

namespace tessera {

struct Device {
  enum class DeviceType { cpu, gpu };
  static constexpr DeviceType cpu = DeviceType::cpu;
  static constexpr DeviceType gpu = DeviceType::gpu;

  DeviceType type;
  int index;

  constexpr Device(DeviceType t, int i = 0) : type(t), index(i) {}  // NOLINT
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
};

// True when the library was built with CUDA and a GPU is visible at run time.
bool is_available(const Device& d);
// The GPU when one is present, else the CPU (unless changed with set_default_device).
const Device& default_device();
void set_default_device(const Device& d);  // throws "[set_default_device] ..." if unavailable

// A stream is an ordered queue of work on one device. Streams of the same device run concurrently.
struct Stream {
  int index;
  Device device;
  Stream(int i, Device d) : index(i), device(d) {}
  bool operator==(const Stream& o) const { return index == o.index; }
  bool operator!=(const Stream& o) const { return index != o.index; }
};

Stream default_stream(Device d);
void set_default_stream(Stream s);
Stream new_stream(Device d);

// Blocks until all work queued on `s` (default: every stream) has finished.
void synchronize(Stream s);
void synchronize();

std::ostream& operator<<(std::ostream& os, const Device& d);
std::ostream& operator<<(std::ostream& os, const Stream& s);

// A device or a stream, as ops accept (`stream=` / `device=` in Python). Monostate = default.
struct StreamOrDevice {
  enum class Kind { none, device, stream } kind{Kind::none};
  Device device{Device::cpu};
  Stream stream{0, Device::cpu};
  StreamOrDevice() = default;
  StreamOrDevice(Device d) : kind(Kind::device), device(d) {}   // NOLINT
  StreamOrDevice(Device::DeviceType t) : StreamOrDevice(Device(t)) {}  // NOLINT
  StreamOrDevice(Stream s) : kind(Kind::stream), stream(s) {}  // NOLINT
};
using StreamOrDeviceArg = StreamOrDevice;
Stream to_stream(const StreamOrDevice& s);

}  // namespace tessera
