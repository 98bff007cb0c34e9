// Bindings for tessera/array.h and dtypes: construction from Python/NumPy, attributes, conversion.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <nanobind/stl/optional.h>

#include <cstring>
#include <optional>
#include <sstream>

#include "tessera/tessera.h"

namespace nb = nanobind;
using namespace tessera;

namespace {

Dtype dtype_from_numpy(const nb::dlpack::dtype& dt) {
  using C = nb::dlpack::dtype_code;
  auto code = static_cast<C>(dt.code);
  switch (code) {
    case C::Bool: return bool_;
    case C::Int: return dt.bits == 8 ? int8 : dt.bits == 16 ? int16 : dt.bits == 32 ? int32 : int64;
    case C::UInt: return dt.bits == 8 ? uint8 : dt.bits == 16 ? uint16 : dt.bits == 32 ? uint32 : uint64;
    case C::Float: return dt.bits == 16 ? float16 : dt.bits == 32 ? float32 : float64;
    case C::Bfloat: return bfloat16;
    case C::Complex:
      if (dt.bits == 64) return complex64;
      break;
    default: break;
  }
  throw nb::type_error("[array] unsupported NumPy dtype.");
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

array from_ndarray(nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu> a, std::optional<Dtype> dtype) {
  Shape shape(a.shape_ptr(), a.shape_ptr() + a.ndim());
  Dtype src = dtype_from_numpy(a.dtype());
  // tessera owns a copy (NumPy may free or mutate its buffer later).
  auto* raw = static_cast<char*>(std::malloc(std::max<size_t>(a.nbytes(), 1)));
  std::memcpy(raw, a.data(), a.nbytes());
  array out(raw, shape, src, [](void* p) { std::free(p); });
  return dtype && *dtype != src ? astype(out, *dtype) : out;
}

// Nested Python lists/scalars -> array (via NumPy, which defines the inference rules users expect;
// Python floats become float32 and ints int32, as in MLX).
array from_python(nb::handle obj, std::optional<Dtype> dtype) {
  if (nb::isinstance<array>(obj)) {
    auto a = nb::cast<array>(obj);
    return dtype ? astype(a, *dtype) : a;
  }
  if (nb::isinstance<nb::bool_>(obj)) return array(nb::cast<bool>(obj), dtype.value_or(bool_));
  if (nb::isinstance<nb::int_>(obj)) return astype(array(nb::cast<int64_t>(obj), int64), dtype.value_or(int32));
  if (nb::isinstance<nb::float_>(obj)) return astype(array(nb::cast<double>(obj), float64), dtype.value_or(float32));
  auto np = nb::module_::import_("numpy");
  nb::object arr = np.attr("ascontiguousarray")(obj);
  std::string kind_char = nb::cast<std::string>(arr.attr("dtype").attr("kind"));
  bool from_list = !nb::hasattr(obj, "dtype");
  if (from_list && kind_char == "f") arr = arr.attr("astype")("float32");
  if (from_list && kind_char == "i") arr = arr.attr("astype")("int32");
  if (from_list && kind_char == "c") arr = arr.attr("astype")("complex64");
  return from_ndarray(nb::cast<nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu>>(arr), dtype);
}

// The other operand of a binary operator: Python scalars take the array's dtype where they fit
// (MLX's rule: scalars never upcast arrays), arrays and sequences convert as usual.
array operand(const array& a, nb::handle b) {
  if (nb::isinstance<nb::bool_>(b)) return from_python(b, std::nullopt);
  if (nb::isinstance<nb::int_>(b)) return from_python(b, a.dtype() == bool_ ? int32 : a.dtype());
  if (nb::isinstance<nb::float_>(b)) return from_python(b, is_inexact(a.dtype()) ? a.dtype() : float32);
  return from_python(b, std::nullopt);
}

nb::object to_numpy(array& a) {
  auto c = contiguous(a);
  eval(c);
  std::vector<size_t> shape(c.shape().begin(), c.shape().end());
  auto* holder = new array(c);
  nb::capsule owner(holder, [](void* p) noexcept { delete static_cast<array*>(p); });
  auto nd = nb::ndarray<nb::numpy>(holder->data<void>(), shape.size(), shape.data(), owner, nullptr,
                                   dlpack_dtype(c.dtype()));
  return nb::cast(nd, nb::rv_policy::reference);
}

}  // namespace

void init_array(nb::module_& m) {
  nb::class_<Dtype>(m, "Dtype", "An array element type.")
      .def_prop_ro("size", [](const Dtype& d) { return d.size; }, "Bytes per element.")
      .def("__repr__", [](const Dtype& d) { return "tessera.core." + dtype_name(d); })
      .def("__eq__", [](const Dtype& a, const Dtype& b) { return a == b; })
      .def("__hash__", [](const Dtype& d) { return static_cast<int>(d.val); });
  for (int i = 0; i < num_dtypes; ++i) {
    Dtype d = dtype_from_index(i);
    m.attr(dtype_name(d).c_str()) = d;
  }

  nb::class_<array>(m, "array", "A lazy n-dimensional array.")
      .def(
          "__init__",
          [](array* self, nb::object val, std::optional<Dtype> dtype) { new (self) array(from_python(val, dtype)); },
          nb::arg("val"), nb::arg("dtype") = nb::none(), "Creates an array from a scalar, nested list or NumPy array.")
      .def_prop_ro("shape", [](const array& a) { return nb::tuple(nb::cast(a.shape())); }, "The shape as a tuple.")
      .def_prop_ro("dtype", &array::dtype, "The element type.")
      .def_prop_ro("ndim", &array::ndim, "Number of dimensions.")
      .def_prop_ro("size", &array::size, "Number of elements.")
      .def_prop_ro("itemsize", &array::itemsize, "Bytes per element.")
      .def_prop_ro("nbytes", &array::nbytes, "Bytes of all elements.")
      .def("item", [](array& a) { return to_numpy(a).attr("item")(); }, "The value of a size-1 array as a Python scalar.")
      .def("tolist", [](array& a) { return to_numpy(a).attr("tolist")(); }, "Nested Python lists of the values.")
      .def("numpy", [](array& a) { return to_numpy(a); }, "A NumPy array sharing (or copying) the data.")
      .def("__array__", [](array& a, nb::kwargs) { return to_numpy(a); })
      .def("astype", [](const array& a, Dtype d) { return astype(a, d); }, nb::arg("dtype"), "Casts to dtype.")
      .def("reshape", [](const array& a, const Shape& s) { return reshape(a, s); }, nb::arg("shape"), "Reshapes.")
      .def_prop_ro("T", [](const array& a) { return transpose(a); }, "The transpose.")
      .def("__len__", [](const array& a) {
        if (a.ndim() == 0) throw nb::type_error("len() of a 0-d array");
        return a.shape(0);
      })
      .def("__add__", [](const array& a, nb::object b) { return add(a, operand(a, b)); })
      .def("__radd__", [](const array& a, nb::object b) { return add(operand(a, b), a); })
      .def("__sub__", [](const array& a, nb::object b) { return subtract(a, operand(a, b)); })
      .def("__rsub__", [](const array& a, nb::object b) { return subtract(operand(a, b), a); })
      .def("__mul__", [](const array& a, nb::object b) { return multiply(a, operand(a, b)); })
      .def("__rmul__", [](const array& a, nb::object b) { return multiply(operand(a, b), a); })
      .def("__truediv__", [](const array& a, nb::object b) { return divide(a, operand(a, b)); })
      .def("__neg__", [](const array& a) { return negative(a); })
      .def("__repr__", [](array& a) {
        std::ostringstream os;
        auto np = to_numpy(a);
        os << "array(" << nb::cast<std::string>(nb::str(np.attr("tolist")())) << ", dtype=" << dtype_name(a.dtype())
           << ")";
        return os.str();
      });

  m.def("eval", [](nb::args args) {
    std::vector<array> outs;
    for (auto h : args) outs.push_back(nb::cast<array>(h));
    nb::gil_scoped_release release;
    eval(outs);
  }, "Evaluates the given arrays.");
  m.def("exp", [](const array& a) { return exp(a); }, nb::arg("a"), "Elementwise exponential.");
  m.def("arange", [](double start, double stop, double step) { return arange(start, stop, step); }, nb::arg("start"),
        nb::arg("stop"), nb::arg("step") = 1.0, "Evenly spaced float32 values in [start, stop).");
}
