// Bindings for tessera/device.h and tessera/scheduler.h: devices, streams, eval, async_eval.
#include <sstream>

#include "utils.h"

using namespace tessera;

namespace {

template <typename T>
std::string to_str(const T& v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

// `with tx.stream(s):` makes s (or the device's default stream) the default for its block.
struct StreamContext {
  StreamOrDevice target;
  std::optional<Device> old_device;
  std::optional<Stream> old_stream;

  void enter() {
    old_device = default_device();
    Stream s = to_stream(target);
    old_stream = default_stream(s.device);
    set_default_device(s.device);
    set_default_stream(s);
  }
  void exit() {
    if (old_stream) set_default_stream(*old_stream);
    if (old_device) set_default_device(*old_device);
  }
};

Device to_device(nb::handle h) {
  if (nb::isinstance<Device::DeviceType>(h)) return Device(nb::cast<Device::DeviceType>(h));
  return nb::cast<Device>(h);
}

}  // namespace

void init_device(nb::module_& m) {
  nb::enum_<Device::DeviceType>(m, "DeviceType", "Kind of device.")
      .value("cpu", Device::DeviceType::cpu)
      .value("gpu", Device::DeviceType::gpu);
  m.attr("cpu") = Device::DeviceType::cpu;
  m.attr("gpu") = Device::DeviceType::gpu;

  nb::class_<Device>(m, "Device", "A device (cpu or gpu) on which arrays are computed.")
      .def(nb::init<Device::DeviceType, int>(), "type"_a, "index"_a = 0)
      .def_ro("type", &Device::type, "The device type.")
      .def_ro("index", &Device::index, "The device index.")
      .def("__eq__", [](const Device& a, nb::handle b) {
        if (nb::isinstance<Device::DeviceType>(b)) return a == Device(nb::cast<Device::DeviceType>(b));
        return nb::isinstance<Device>(b) && a == nb::cast<Device>(b);
      })
      .def("__hash__", [](const Device& d) { return static_cast<int>(d.type) * 1000 + d.index; })
      .def("__repr__", [](const Device& d) { return to_str(d); });
  nb::implicitly_convertible<Device::DeviceType, Device>();

  nb::class_<Stream>(m, "Stream", "An ordered queue of work on one device.")
      .def_ro("index", &Stream::index, "The stream index.")
      .def_ro("device", &Stream::device, "The stream's device.")
      .def("__eq__", [](const Stream& a, nb::handle b) { return nb::isinstance<Stream>(b) && a == nb::cast<Stream>(b); })
      .def("__hash__", [](const Stream& s) { return s.index; })
      .def("__repr__", [](const Stream& s) { return to_str(s); });

  m.def("is_available", [](const Device& d) { return is_available(d); }, "device"_a,
        "True when the device can be used (a GPU needs a CUDA build and a visible GPU).");
  m.def("default_device", &default_device, "The default device (the GPU when present, else the CPU).");
  m.def("set_default_device", [](nb::handle d) { set_default_device(to_device(d)); },
        nb::sig("def set_default_device(device: Device | DeviceType) -> None"), "Sets the default device.");
  m.def("default_stream", [](nb::handle d) { return default_stream(to_device(d)); },
        nb::sig("def default_stream(device: Device | DeviceType) -> Stream"), "The default stream of a device.");
  m.def("set_default_stream", &set_default_stream, "stream"_a,
        "Sets the default stream of the stream's device.");
  m.def("new_stream", [](nb::handle d) { return new_stream(to_device(d)); },
        nb::sig("def new_stream(device: Device | DeviceType) -> Stream"), "Creates a new stream on a device.");
  m.def(
      "synchronize",
      [](std::optional<Stream> s) {
        nb::gil_scoped_release release;
        if (s) synchronize(*s);
        else synchronize();
      },
      "stream"_a = nb::none(), "Waits for the work queued on a stream (default: all streams) to finish.");

  nb::class_<StreamContext>(m, "StreamContext", "Context manager that changes the default device and stream.")
      .def("__enter__", [](StreamContext& c) { c.enter(); return c; })
      .def("__exit__", [](StreamContext& c, nb::args) { c.exit(); });
  m.def("stream", [](StreamOrDevice s) { return StreamContext{s}; }, "s"_a,
        "A context manager making ``s`` (a Stream or Device) the default inside its block.");

  m.def(
      "eval",
      [](nb::args args) {
        std::vector<array> arrays;
        txpy::collect_arrays(args, arrays);
        txpy::eval_arrays(std::move(arrays));
      },
      nb::sig("def eval(*args) -> None"),
      "Evaluates the arrays in ``args`` (arrays, or lists/tuples/dicts of them).");
  m.def(
      "async_eval",
      [](nb::args args) {
        std::vector<array> arrays;
        txpy::collect_arrays(args, arrays);
        nb::gil_scoped_release release;
        async_eval(std::move(arrays));
      },
      nb::sig("def async_eval(*args) -> None"),
      "Starts evaluating the arrays in ``args`` and returns at once; reading them waits.");
  m.def("set_num_threads", &scheduler::set_num_threads, "n"_a, "Sets the number of CPU worker threads.");
  m.def("num_threads", &scheduler::num_threads, "The number of CPU worker threads.");
}
