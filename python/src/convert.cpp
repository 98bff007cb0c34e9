// Conversions between tessera arrays and Python: scalars, lists, NumPy, buffers, DLPack; eval.
#include <nanobind/ndarray.h>

#include <chrono>
#include <climits>
#include <cstring>
#include <thread>

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

array from_ndarray(const HostArray& a, std::optional<Dtype> dtype) {
  Shape shape;
  for (size_t i = 0; i < a.ndim(); ++i) {
    if (a.shape(i) > static_cast<size_t>(INT32_MAX)) throw std::invalid_argument("[array] dimension too large.");
    shape.push_back(static_cast<ShapeElem>(a.shape(i)));
  }
  Dtype src = dtype_from_dlpack(a.dtype());
  // tessera owns a copy (the source may free or mutate its buffer later).
  size_t n = a.nbytes();
  auto buf = allocator::malloc(std::max<size_t>(n, 1));
  if (n) std::memcpy(buf.ptr, a.data(), n);
  array out(buf.ptr, shape, src, [buf](void*) { allocator::free(buf); });
  return dtype && *dtype != src ? astype(out, *dtype) : out;
}

bool fits_int32(nb::handle h) {
  long long v = 0;
  if (!nb::try_cast<long long>(h, v)) return false;
  return v >= INT32_MIN && v <= INT32_MAX;
}

array int_scalar(nb::handle h, Dtype dtype) {
  long long v = 0;
  if (nb::try_cast<long long>(h, v)) return astype(array(static_cast<int64_t>(v), int64), dtype);
  unsigned long long u = 0;
  if (nb::try_cast<unsigned long long>(h, u)) return astype(array(static_cast<uint64_t>(u), uint64), dtype);
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
  if (PyBool_Check(obj.ptr())) return astype(array(nb::cast<bool>(obj)), dtype.value_or(bool_));
  if (PyLong_CheckExact(obj.ptr())) return int_scalar(obj, dtype.value_or(fits_int32(obj) ? int32 : int64));
  if (PyFloat_CheckExact(obj.ptr())) return astype(array(nb::cast<double>(obj), float64), dtype.value_or(float32));
  if (PyComplex_CheckExact(obj.ptr())) {
    complex64_t v(static_cast<float>(PyComplex_RealAsDouble(obj.ptr())),
                  static_cast<float>(PyComplex_ImagAsDouble(obj.ptr())));
    return astype(array(v), dtype.value_or(complex64));
  }
  bool from_seq = nb::isinstance<nb::list>(obj) || nb::isinstance<nb::tuple>(obj);
  if (!from_seq) {
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

void eval_arrays(std::vector<array> arrays) {
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

// The evaluated array as an ndarray view (strides and offset kept: zero-copy).
template <typename... Framework>
nb::ndarray<Framework...> as_ndarray(array a) {
  eval_arrays({a});
  std::vector<size_t> shape(a.shape().begin(), a.shape().end());
  std::vector<int64_t> strides(a.strides().begin(), a.strides().end());
  auto* holder = new array(a);
  nb::capsule owner(holder, [](void* p) noexcept { delete static_cast<array*>(p); });
  void* data = a.size() ? holder->data<void>() : nullptr;
  return nb::ndarray<Framework...>(data, shape.size(), shape.data(), owner, strides.data(), dlpack_dtype(a.dtype()));
}

}  // namespace

nb::object to_numpy(array a) {
  if (a.dtype() == bfloat16) {
    throw nb::type_error(
        "[numpy] NumPy has no bfloat16; convert first with a.astype(tessera.core.float32) "
        "(or use DLPack, which carries bfloat16).");
  }
  return nb::cast(as_ndarray<nb::numpy>(a), nb::rv_policy::reference);
}

nb::object to_dlpack(array a) { return nb::cast(as_ndarray<>(a), nb::rv_policy::reference); }

nb::object to_item(array a) {
  if (a.size() != 1) throw std::invalid_argument("[item] expected an array of size 1, got shape " + shape_str(a.shape()) + ".");
  if (a.dtype() == bfloat16) a = astype(a, float32);
  return to_numpy(a).attr("item")();
}

nb::object to_list(array a) {
  if (a.dtype() == bfloat16) a = astype(a, float32);
  return to_numpy(a).attr("tolist")();
}

std::string array_repr(array a) {
  Dtype d = a.dtype();
  if (d == bfloat16) a = astype(a, float32);
  auto np = nb::module_::import_("numpy");
  nb::object body = np.attr("array2string")(to_numpy(a), "separator"_a = ", ", "prefix"_a = "array(");
  return "array(" + nb::cast<std::string>(body) + ", dtype=" + dtype_name(d) + ")";
}

}  // namespace txpy

void init_convert(nb::module_& m) {
  m.def(
      "from_dlpack",
      [](nb::object obj) { return txpy::to_array(obj); },
      "x"_a, "Creates an array (a copy) from an object with ``__dlpack__`` or a DLPack capsule.");
}
