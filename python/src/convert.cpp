// Conversions between tessera arrays and Python: scalars, lists, NumPy, buffers, DLPack; eval.
#include <nanobind/ndarray.h>

#include <chrono>
#include <climits>
#include <cstring>
#include <thread>

#include "tessera/backend/gpu.h"
#include "tessera/host_export.h"
#include "tessera/interop.h"
#include "utils.h"

namespace txpy {

using namespace tessera;

namespace {

Dtype dtype_from_dlpack(const nb::dlpack::dtype& dt) {
  using C = nb::dlpack::dtype_code;
  auto code = static_cast<C>(dt.code);
  switch (code) {
    case C::Bool: return bool_;
    case C::Int:
      if (dt.bits == 8) return int8;
      if (dt.bits == 16) return int16;
      if (dt.bits == 32) return int32;
      if (dt.bits == 64) return int64;
      break;
    case C::UInt:
      if (dt.bits == 8) return uint8;
      if (dt.bits == 16) return uint16;
      if (dt.bits == 32) return uint32;
      if (dt.bits == 64) return uint64;
      break;
    case C::Float:
      if (dt.bits == 16) return float16;
      if (dt.bits == 32) return float32;
      if (dt.bits == 64) return float64;
      break;
    case C::Bfloat:
      if (dt.bits == 16) return bfloat16;
      break;
    case C::Complex:
      if (dt.bits == 64) return complex64;
      break;
    default: break;
  }
  throw nb::type_error(("[array] unsupported element type (code " + std::to_string(dt.code) + ", " +
                       std::to_string(dt.bits) + " bits).")
                           .c_str());
}

bool supported_dlpack(const nb::dlpack::dtype& dt) {
  try {
    dtype_from_dlpack(dt);
    return true;
  } catch (...) {
    return false;
  }
}

nb::dlpack::dtype dlpack_dtype(Dtype d) {
  using C = nb::dlpack::dtype_code;
  C code = C::Float;
  switch (kind(d)) {
    case Dtype::Kind::b: code = C::Bool; break;
    case Dtype::Kind::u: code = C::UInt; break;
    case Dtype::Kind::i: code = C::Int; break;
    case Dtype::Kind::f: code = C::Float; break;
    case Dtype::Kind::V: code = C::Bfloat; break;
    case Dtype::Kind::c: code = C::Complex; break;
  }
  return nb::dlpack::dtype{static_cast<uint8_t>(code), static_cast<uint8_t>(d.size * 8), 1};
}

using HostArray = nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu>;
using SharedHostArray = nb::ndarray<nb::c_contig, nb::device::cpu>;  // writable: tessera may alias it
using CudaArray = nb::ndarray<nb::ro, nb::device::cuda>;

// DLPack device types (dlpack.h).
constexpr int kDLCPU = 1, kDLCUDA = 2;

Shape dlpack_shape(size_t ndim, const auto& nd) {
  Shape shape;
  for (size_t i = 0; i < ndim; ++i) {
    if (nd.shape(i) > static_cast<size_t>(INT32_MAX)) throw std::invalid_argument("[array] dimension too large.");
    shape.push_back(static_cast<ShapeElem>(nd.shape(i)));
  }
  return shape;
}

template <typename HostNdarray>  // a C-contiguous CPU ndarray
array from_ndarray(const HostNdarray& a, std::optional<Dtype> dtype) {
  Shape shape = dlpack_shape(a.ndim(), a);
  Dtype src = dtype_from_dlpack(a.dtype());
  // tessera owns a copy (the source may free or mutate its buffer later).
  size_t n = a.nbytes();
  auto buf = allocator::malloc(std::max<size_t>(n, 1));
  if (n) std::memcpy(buf.ptr, a.data(), n);
  array out(buf.ptr, shape, src, [buf](void*) { allocator::free(buf); });
  return dtype && *dtype != src ? astype(out, *dtype) : out;
}

// The DLPack device type a producer reports; kDLCPU for capsules and objects without one.
int producer_device_type(nb::handle obj) {
  if (!nb::hasattr(obj, "__dlpack_device__")) return kDLCPU;
  return nb::cast<int>(obj.attr("__dlpack_device__")()[0]);
}


#ifdef TESSERA_CUDA
// A CUDA DLPack tensor (imported, so a capsule is consumed) as an array, without a host round trip.
// share: the array adopts the device memory (the producer stays alive while any array uses it);
// otherwise a device-to-device copy.
array from_cuda_ndarray(const CudaArray& nd, std::optional<Dtype> dtype, bool share) {
  if (nd.device_id() != 0) {
    throw std::invalid_argument("[array] tessera uses CUDA device 0; got a tensor on device " +
                                std::to_string(nd.device_id()) + ".");
  }
  Dtype src = dtype_from_dlpack(nd.dtype());
  Shape shape = dlpack_shape(nd.ndim(), nd);
  size_t size = shape_size(shape);
  auto keep = [nd]() {};  // holds the producer until the last array using the memory is gone
  auto adopt = [&]() -> array {
    if (size == 0) return zeros(shape, src, Device::gpu);  // nothing to alias
    // Element range the view spans (strides in elements, possibly not row-major).
    int64_t lo = 0, hi = 0, expect = 1;
    bool row_major = true;
    for (int i = static_cast<int>(nd.ndim()) - 1; i >= 0; --i) {
      int64_t st = nd.stride(i), d = static_cast<int64_t>(nd.shape(i));
      if (d != 1 && st != expect) row_major = false;
      expect *= d;
      (st < 0 ? lo : hi) += st * (d - 1);
    }
    char* base = static_cast<char*>(const_cast<void*>(nd.data())) + lo * static_cast<int64_t>(src.size);
    if (row_major) return adopt_device_memory(base, shape, src, keep);
    if (hi - lo + 1 > INT32_MAX) throw std::invalid_argument("[array] strided CUDA tensor spans too many elements.");
    array span = adopt_device_memory(base, {static_cast<ShapeElem>(hi - lo + 1)}, src, keep);
    Strides strides(nd.ndim());
    for (size_t i = 0; i < nd.ndim(); ++i) strides[i] = nd.stride(i);
    return as_strided(span, shape, strides, -lo, Device::gpu);
  };
  array out = adopt();
  if (dtype && *dtype != src) out = astype(out, *dtype, Device::gpu);
  else if (!share) out = copy(out, Device::gpu);
  if (!share || (dtype && *dtype != src)) eval_arrays({out});  // done before the producer's memory changes
  return out;
}
#endif

// A producer whose data lives on a CUDA device (see from_cuda_ndarray).
array from_cuda_dlpack(nb::handle obj, std::optional<Dtype> dtype, bool share) {
#ifdef TESSERA_CUDA
  if (!is_available(Device::gpu)) {
    throw nb::type_error(("[array] cannot import a CUDA tensor (" + nb::cast<std::string>(nb::str(obj.type())) +
                          "): no GPU is available to tessera (no CUDA device found; built with CUDA). Move it to "
                          "the CPU first (e.g. t.cpu()).")
                             .c_str());
  }
  // stream=1 (the legacy default stream): the producer orders its pending work before it; tessera's
  // streams are blocking streams, so their later kernels wait for it too.
  nb::object capsule = obj.attr("__dlpack__")("stream"_a = 1);
  CudaArray nd;
  if (!nb::try_cast<CudaArray>(capsule, nd, false)) throw nb::type_error("[array] could not import the CUDA DLPack tensor.");
  return from_cuda_ndarray(nd, dtype, share);
#else
  (void)dtype, (void)share;
  throw nb::type_error(
      ("[array] cannot import a CUDA tensor (" + nb::cast<std::string>(nb::str(obj.type())) +
       "): tessera was built without CUDA. Move it to the CPU first (e.g. t.cpu()).")
          .c_str());
#endif
}

// A CPU DLPack tensor whose memory the array may alias: row-contiguous, writable and naturally
// aligned (kernels expect that); nullopt otherwise.
std::optional<array> share_host_dlpack(nb::handle obj, std::optional<Dtype> dtype) {
  SharedHostArray nd;
  if (!nb::try_cast<SharedHostArray>(obj, nd, false) || !supported_dlpack(nd.dtype())) return std::nullopt;
  Dtype src = dtype_from_dlpack(nd.dtype());
  size_t align = src == complex64 ? 4 : src.size;
  // Imported (a capsule is used up by now): copy what cannot be aliased.
  if (reinterpret_cast<uintptr_t>(nd.data()) % align != 0 || nd.size() == 0) return from_ndarray(nd, dtype);
  array out(nd.data(), dlpack_shape(nd.ndim(), nd), src, [nd](void*) {});
  mark_host_exported(out);  // the producer may keep writing its memory: uploads always copy again
  return dtype && *dtype != src ? astype(out, *dtype) : out;
}

}  // namespace

array from_dlpack(nb::handle obj, std::optional<bool> copy) {
  int type = producer_device_type(obj);
  bool share = !copy.value_or(false);
  if (type == kDLCUDA) return from_cuda_dlpack(obj, std::nullopt, share);
#ifdef TESSERA_CUDA
  if (PyCapsule_CheckExact(obj.ptr())) {
    CudaArray nd;  // a CUDA capsule (the cast fails, leaving it unused, for others)
    if (nb::try_cast<CudaArray>(obj, nd, false)) return from_cuda_ndarray(nd, std::nullopt, share);
  }
#endif
  if (type != kDLCPU) {
    throw nb::type_error(("[array] unsupported DLPack device type " + std::to_string(type) + ".").c_str());
  }
  if (share) {
    if (auto a = share_host_dlpack(obj, std::nullopt)) return *a;
  }
  return to_array(obj);
}

namespace {

bool fits_int32(nb::handle h) {
  long long v = 0;
  if (!nb::try_cast<long long>(h, v)) return false;
  return v >= INT32_MIN && v <= INT32_MAX;
}

// Scalars are converted on the host into an available array of the final dtype (no lazy astype).
array int_scalar(nb::handle h, Dtype dtype) {
  long long v = 0;
  if (nb::try_cast<long long>(h, v)) return array(static_cast<int64_t>(v), dtype);
  unsigned long long u = 0;
  if (nb::try_cast<unsigned long long>(h, u)) return array(static_cast<uint64_t>(u), dtype);
  throw std::overflow_error("[array] Python int too large for a 64-bit integer.");
}

}  // namespace

// Exact Python scalar types (NumPy scalars such as np.float64 keep their dtype).
bool is_python_scalar(nb::handle h) {
  return PyBool_Check(h.ptr()) || PyLong_CheckExact(h.ptr()) || PyFloat_CheckExact(h.ptr()) ||
         PyComplex_CheckExact(h.ptr());
}

array to_array(nb::handle obj, std::optional<Dtype> dtype) {
  if (nb::isinstance<array>(obj)) {
    auto a = nb::cast<array>(obj);
    return dtype && *dtype != a.dtype() ? astype(a, *dtype) : a;
  }
  if (PyBool_Check(obj.ptr())) return array(obj.ptr() == Py_True, dtype.value_or(bool_));
  if (PyLong_CheckExact(obj.ptr())) return int_scalar(obj, dtype.value_or(fits_int32(obj) ? int32 : int64));
  if (PyFloat_CheckExact(obj.ptr())) return array(PyFloat_AS_DOUBLE(obj.ptr()), dtype.value_or(float32));
  if (PyComplex_CheckExact(obj.ptr())) {
    complex64_t v(static_cast<float>(PyComplex_RealAsDouble(obj.ptr())),
                  static_cast<float>(PyComplex_ImagAsDouble(obj.ptr())));
    return array(v, dtype.value_or(complex64));
  }
  bool from_seq = nb::isinstance<nb::list>(obj) || nb::isinstance<nb::tuple>(obj);
  if (!from_seq) {
    if (producer_device_type(obj) == kDLCUDA) return from_cuda_dlpack(obj, dtype, false);
    // NumPy arrays, DLPack objects/capsules and buffers, when their dtype is one of ours.
    HostArray nd;
    if (nb::try_cast<HostArray>(obj, nd) && supported_dlpack(nd.dtype())) return from_ndarray(nd, dtype);
  }
  auto np = nb::module_::import_("numpy");
  nb::object arr;
  try {
    arr = np.attr("ascontiguousarray")(obj);
  } catch (nb::python_error& e) {
    throw nb::type_error(("[array] cannot convert " + nb::cast<std::string>(nb::str(obj.type())) +
                          " to an array: " + e.what()).c_str());
  }
  std::string k = nb::cast<std::string>(arr.attr("dtype").attr("kind"));
  int bits = nb::cast<int>(arr.attr("dtype").attr("itemsize")) * 8;
  if (k == "O" || k == "U" || k == "S") throw nb::type_error("[array] cannot convert objects or strings to an array.");
  if (from_seq && k == "f") arr = arr.attr("astype")("float32");
  if (from_seq && k == "i") {
    bool fits = arr.attr("size").equal(nb::int_(0)) ||
                (nb::cast<bool>(arr.attr("min")() >= nb::int_(INT32_MIN)) &&
                 nb::cast<bool>(arr.attr("max")() <= nb::int_(INT32_MAX)));
    arr = arr.attr("astype")(fits ? "int32" : "int64");
  }
  if (k == "c" && (from_seq || bits == 128)) arr = arr.attr("astype")("complex64");
  if (k == "f" && bits > 64) arr = arr.attr("astype")("float64");
  return from_ndarray(nb::cast<HostArray>(arr), dtype);
}

array scalar_like(nb::handle s, Dtype other) {
  if (PyBool_Check(s.ptr())) return to_array(s, other);
  if (PyLong_CheckExact(s.ptr())) return to_array(s, other == bool_ ? int32 : other);
  if (PyFloat_CheckExact(s.ptr())) return to_array(s, is_inexact(other) ? other : float32);
  return to_array(s, std::nullopt);  // complex
}

std::pair<array, array> to_arrays(nb::handle a, nb::handle b) {
  bool sa = is_python_scalar(a), sb = is_python_scalar(b);
  if (sa && !sb) {
    array bb = to_array(b);
    return {scalar_like(a, bb.dtype()), bb};
  }
  if (sb && !sa) {
    array aa = to_array(a);
    return {aa, scalar_like(b, aa.dtype())};
  }
  return {to_array(a), to_array(b)};
}

namespace {

// A graph small enough to evaluate on the calling thread: few unevaluated nodes, few elements. Its
// evaluation takes microseconds, so handing it to a worker (and polling for Ctrl-C) costs more
// than it saves; bigger graphs keep the interruptible path.
bool tiny_graph(const std::vector<array>& outputs) {
  constexpr int kMaxNodes = 16;
  constexpr size_t kMaxElements = size_t(1) << 14;
  int nodes = 0;
  size_t elements = 0;
  std::vector<const array*> stack;
  for (auto& o : outputs) stack.push_back(&o);
  while (!stack.empty()) {
    const array* a = stack.back();
    stack.pop_back();
    auto st = a->status();
    if (st == array::Status::available) continue;
    if (st != array::Status::unscheduled || !a->has_primitive()) return false;  // in flight elsewhere
    if (++nodes > kMaxNodes || (elements += a->size()) > kMaxElements) return false;
    for (auto& in : a->inputs()) {
      if (in.size() > kMaxElements) return false;  // e.g. a reduction of a big input
      stack.push_back(&in);
    }
  }
  return true;
}

}  // namespace

void eval_arrays(std::vector<array> arrays) {
  if (tiny_graph(arrays)) {
    nb::gil_scoped_release release;
    eval(arrays);  // runs inline when the graph lies on one idle CPU stream
    return;
  }
  {
    nb::gil_scoped_release release;
    async_eval(arrays);
  }
  for (auto& a : arrays) {
    // Wait in short slices so Ctrl-C (a pending Python signal) can interrupt the wait.
    while (a.status() == array::Status::scheduled && a.event()) {
      auto ev = a.event();
      bool done = false;
      {
        nb::gil_scoped_release release;
        auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
        int spins = 0;
        while (!(done = ev->is_signaled()) && std::chrono::steady_clock::now() < until) {
          if (++spins < 200) std::this_thread::yield();
          else std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
      }
      if (done) break;
      if (PyErr_CheckSignals() != 0) throw nb::python_error();
    }
    nb::gil_scoped_release release;
    wait_for(a);
  }
}

void collect_arrays(nb::handle tree, std::vector<array>& out) {
  if (nb::isinstance<array>(tree)) {
    out.push_back(nb::cast<array>(tree));
  } else if (nb::isinstance<nb::list>(tree) || nb::isinstance<nb::tuple>(tree)) {
    for (auto h : tree) collect_arrays(h, out);
  } else if (nb::isinstance<nb::dict>(tree)) {
    for (auto [k, v] : nb::borrow<nb::dict>(tree)) collect_arrays(v, out);
  }
}

namespace {

// Evaluates `a` and waits until its data is complete on whichever side holds it (a GPU array's
// kernels may still be queued when its status turns available; its event fires after they finish).
void eval_complete(const array& a) {
  eval_arrays({a});
  if (auto ev = a.event()) {
    nb::gil_scoped_release release;
    ev->wait();
  }
}

// The evaluated array as an ndarray view (strides and offset kept: zero-copy), of its host copy or,
// with on_device, its device copy. writable: the consumer may write, so the other side goes stale.
template <typename... Framework>
nb::ndarray<Framework...> as_ndarray(array a, bool writable, bool on_device = false) {
  eval_complete(a);
  std::vector<size_t> shape(a.shape().begin(), a.shape().end());
  std::vector<int64_t> strides(a.strides().begin(), a.strides().end());
  auto* holder = new array(a);
  nb::capsule owner(holder, [](void* p) noexcept { delete static_cast<array*>(p); });
  void* data = nullptr;
  int device_type = kDLCPU;
  if (on_device) {
#ifdef TESSERA_CUDA
    if (!is_available(Device::gpu)) {
      throw nb::buffer_error("[dlpack] no GPU is available to tessera (no CUDA device found): arrays live on the CPU.");
    }
    device_type = kDLCUDA;
    data = a.size() ? holder->device_data() : nullptr;
    // The consumer may read it on its own streams after tessera dropped the array: its free waits.
    gpu::mark_exported(holder->data_shared_ptr()->device_ptr);
    // The consumer may write the device copy: the host copy goes stale (not for memory tessera
    // does not own on the host, e.g. a read-only mapped file, which keeps its host copy).
    if (writable && !holder->data_shared_ptr()->deleter) holder->mark_device_written();
#else
    throw nb::buffer_error("[dlpack] tessera was built without CUDA: arrays live on the CPU.");
#endif
  } else {
    data = a.size() ? holder->data<void>() : nullptr;
    // The consumer may write the host copy at any later time: a device copy is never trusted again
    // while the host side is the valid one.
    if (writable) mark_host_exported(*holder);
  }
  return nb::ndarray<Framework...>(data, shape.size(), shape.data(), owner, strides.data(), dlpack_dtype(a.dtype()),
                                   device_type, 0);
}

nb::object host_numpy(array a, bool writable) {
  if (a.dtype() == bfloat16) {
    throw nb::type_error(
        "[numpy] NumPy has no bfloat16; convert first with a.astype(tessera.core.float32) "
        "(or use DLPack, which carries bfloat16).");
  }
  return nb::cast(as_ndarray<nb::numpy>(a, writable), nb::rv_policy::reference);
}

}  // namespace

nb::object to_numpy(array a) { return host_numpy(a, true); }

nb::object to_numpy_copy(array a) { return host_numpy(a, false).attr("copy")(); }

std::pair<int, int> dlpack_device(array a) {
  eval_complete(a);
#ifdef TESSERA_CUDA
  // CUDA when the valid copy lives only on the GPU (a host copy, when valid, is exported as is).
  if (auto& d = a.data_shared_ptr(); d && !d->host_valid.load(std::memory_order_acquire)) return {kDLCUDA, 0};
#endif
  return {kDLCPU, 0};
}

nb::object to_dlpack(array a, nb::handle stream, nb::handle dl_device, nb::handle copy) {
  int want = dlpack_device(a).first;
  if (!dl_device.is_none()) {
    auto [type, id] = nb::cast<std::pair<int, int>>(dl_device);
    if ((type != kDLCPU && type != kDLCUDA) || id != 0) {
      throw nb::buffer_error(("[dlpack] cannot export to device (" + std::to_string(type) + ", " +
                              std::to_string(id) + "): tessera has the CPU (1, 0) and CUDA device (2, 0).")
                                 .c_str());
    }
    want = type;
  }
  if (want == kDLCUDA && !stream.is_none()) {
    // DLPack: 0 is ambiguous for CUDA; -1 means no synchronization; any other value is a consumer
    // stream. The data is complete before the capsule is returned, so every stream may read it.
    if (!nb::isinstance<nb::int_>(stream) || nb::cast<long long>(stream) == 0) {
      throw nb::value_error("[dlpack] stream must be None, -1, 1, 2 or a CUDA stream handle (0 is ambiguous).");
    }
  }
  if (!copy.is_none() && nb::cast<bool>(copy)) a = tessera::copy(a, want == kDLCUDA ? StreamOrDevice(Device::gpu) : StreamOrDevice(Device::cpu));
  return nb::cast(as_ndarray<>(a, true, want == kDLCUDA), nb::rv_policy::reference);
}

nb::object to_item(array a) {
  if (a.size() != 1) throw std::invalid_argument("[item] expected an array of size 1, got shape " + shape_str(a.shape()) + ".");
  if (a.dtype() == bfloat16) a = astype(a, float32);
  return host_numpy(a, false).attr("item")();
}

nb::object to_list(array a) {
  if (a.dtype() == bfloat16) a = astype(a, float32);
  return host_numpy(a, false).attr("tolist")();
}

std::string array_repr(array a) {
  Dtype d = a.dtype();
  if (d == bfloat16) a = astype(a, float32);
  auto np = nb::module_::import_("numpy");
  nb::object body = np.attr("array2string")(host_numpy(a, false), "separator"_a = ", ", "prefix"_a = "array(");
  return "array(" + nb::cast<std::string>(body) + ", dtype=" + dtype_name(d) + ")";
}

}  // namespace txpy

void init_convert(nb::module_& m) {
  m.def(
      "from_dlpack",
      [](nb::object obj, std::optional<bool> copy) { return txpy::from_dlpack(obj, copy); },
      "x"_a, nb::kw_only(), "copy"_a = nb::none(),
      "Creates an array from an object with ``__dlpack__`` (or a DLPack capsule). Unless copy=True it "
      "shares the producer's memory (kept alive while the array lives) when it can: CUDA tensors "
      "always (the array lives on the GPU), CPU tensors when row-contiguous, writable and aligned; "
      "otherwise the data is copied. ``array(x)`` always copies (CUDA tensors device to device).");
}
