// Bindings for tessera/array.h and tessera/dtype.h: the array class, its operators and methods.
#include <nanobind/ndarray.h>

#include "tessera/host_export.h"
#include "utils.h"

using namespace tessera;
using txpy::to_array;
using txpy::to_arrays;

namespace {

using BinaryFn = array (*)(const array&, const array&, StreamOrDevice);

// a (op) b, or b (op) a when reflected; a Python scalar b takes a's dtype (MLX's weak scalars).
array binop(BinaryFn f, const array& a, nb::handle b, bool reflected) {
  array y = txpy::is_python_scalar(b) ? txpy::scalar_like(b, a.dtype()) : to_array(b);
  return reflected ? f(y, a, {}) : f(a, y, {});
}

// Shape given as f(2, 3) or f((2, 3)) / f([2, 3]).
Shape shape_from_args(const nb::args& args) {
  if (args.size() == 1 && !nb::isinstance<nb::int_>(args[0])) return nb::cast<Shape>(args[0]);
  return nb::cast<Shape>(args);
}

// Buffer protocol (memoryview(a), bytes(a), ...): the evaluated data, shared, with strides.
struct BufferInfo {
  array a;
  std::string format;
  std::vector<Py_ssize_t> shape, strides;
};

const char* buffer_format(Dtype d) {
  switch (d.val) {
    case Dtype::Val::bool_: return "?";
    case Dtype::Val::uint8: return "B";
    case Dtype::Val::uint16: return "H";
    case Dtype::Val::uint32: return "I";
    case Dtype::Val::uint64: return "Q";
    case Dtype::Val::int8: return "b";
    case Dtype::Val::int16: return "h";
    case Dtype::Val::int32: return "i";
    case Dtype::Val::int64: return "q";
    case Dtype::Val::float16: return "e";
    case Dtype::Val::float32: return "f";
    case Dtype::Val::float64: return "d";
    case Dtype::Val::complex64: return "Zf";
    default: return nullptr;
  }
}

int array_getbuffer(PyObject* exporter, Py_buffer* view, int flags) {
  try {
    array a = nb::cast<array>(nb::handle(exporter));
    const char* fmt = buffer_format(a.dtype());
    if (!fmt) {
      PyErr_SetString(PyExc_BufferError, "[buffer] bfloat16 has no buffer format; convert with astype first.");
      return -1;
    }
    txpy::eval_arrays({a});
    bool want_c = (flags & PyBUF_C_CONTIGUOUS) == PyBUF_C_CONTIGUOUS || !(flags & PyBUF_STRIDES);
    if ((want_c && !a.flags().row_contiguous) || (flags & PyBUF_ANY_CONTIGUOUS) == PyBUF_ANY_CONTIGUOUS ||
        (flags & PyBUF_F_CONTIGUOUS) == PyBUF_F_CONTIGUOUS) {
      if (!a.flags().row_contiguous) {
        a = contiguous(a);
        txpy::eval_arrays({a});
      }
    }
    auto* info = new BufferInfo{a, fmt, {}, {}};
    for (int i = 0; i < a.ndim(); ++i) {
      info->shape.push_back(a.shape(i));
      info->strides.push_back(static_cast<Py_ssize_t>(a.strides(i) * static_cast<int64_t>(a.itemsize())));
    }
    view->obj = exporter;
    Py_INCREF(exporter);
    view->buf = a.size() ? info->a.data<void>() : nullptr;
    // The buffer is writable (readonly = 0 for every consumer): writes through it may come at any
    // time, so the device copy is stale now and re-uploaded on every later GPU use.
    mark_host_exported(info->a);
    view->len = static_cast<Py_ssize_t>(a.nbytes());
    view->readonly = 0;
    view->itemsize = static_cast<Py_ssize_t>(a.itemsize());
    view->format = (flags & PyBUF_FORMAT) ? info->format.data() : nullptr;
    view->ndim = a.ndim();
    view->shape = info->shape.data();
    view->strides = (flags & PyBUF_STRIDES) ? info->strides.data() : nullptr;
    view->suboffsets = nullptr;
    view->internal = info;
    return 0;
  } catch (nb::python_error& e) {
    e.restore();
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_BufferError, e.what());
  }
  return -1;
}

void array_releasebuffer(PyObject*, Py_buffer* view) { delete static_cast<BufferInfo*>(view->internal); }

PyType_Slot array_slots[] = {{Py_bf_getbuffer, reinterpret_cast<void*>(array_getbuffer)},
                             {Py_bf_releasebuffer, reinterpret_cast<void*>(array_releasebuffer)},
                             {0, nullptr}};

}  // namespace

#define TX_BINOP(PY, FN)                                                                      \
  .def("__" PY "__", [](const array& a, nb::object b) { return binop(FN, a, b, false); })   \
      .def("__r" PY "__", [](const array& a, nb::object b) { return binop(FN, a, b, true); }) \
      .def("__i" PY "__", [](nb::handle self, nb::object b) {                                   \
        array& a = nb::cast<array&>(self);                                                      \
        a = binop(FN, a, b, false);                                                             \
        return nb::borrow(self);                                                                \
      })

#define TX_CMP(PY, FN)                                                           \
  .def("__" PY "__", [](const array& a, nb::object b) -> nb::object {             \
    if (b.is_none()) return nb::borrow(Py_NotImplemented);                        \
    return nb::cast(binop(FN, a, b, false));                                      \
  }, "other"_a.none())

#define TX_UNARY_METHOD(NAME, DOC) \
  .def(#NAME, [](const array& a, StreamOrDevice s) { return NAME(a, s); }, TX_STREAM, DOC)

#define TX_REDUCE_METHOD(NAME)                                                                                 \
  .def(#NAME,                                                                                                   \
       [](const array& a, OptAxes axis, bool keepdims, StreamOrDevice s) {                                      \
         return txpy::reduce_op(#NAME, a, axis, keepdims, s);                                                   \
       },                                                                                                       \
       "axis"_a = nb::none(), "keepdims"_a = false, TX_STREAM, "See :func:`" #NAME "`.")

#define TX_SCAN_METHOD(NAME)                                                                         \
  .def(#NAME,                                                                                         \
       [](const array& a, std::optional<int> axis, bool reverse, bool inclusive, StreamOrDevice s) { \
         return txpy::scan_op(#NAME, a, axis, reverse, inclusive, s);                                 \
       },                                                                                             \
       "axis"_a = nb::none(), nb::kw_only(), "reverse"_a = false, "inclusive"_a = true, "stream"_a = nb::none(), \
       "See :func:`" #NAME "`.")

void init_array(nb::module_& m) {
  nb::class_<Dtype>(m, "Dtype", "An array element type.")
      .def_prop_ro("size", [](const Dtype& d) { return d.size; }, "Bytes per element.")
      .def("__repr__", [](const Dtype& d) { return "tessera.core." + dtype_name(d); })
      .def("__eq__", [](const Dtype& a, nb::handle b) { return nb::isinstance<Dtype>(b) && a == nb::cast<Dtype>(b); })
      .def("__hash__", [](const Dtype& d) { return static_cast<int>(d.val); });
  for (int i = 0; i < num_dtypes; ++i) {
    Dtype d = dtype_from_index(i);
    m.attr(dtype_name(d).c_str()) = d;
  }
  m.attr("bool_") = bool_;
  m.def("promote_types", &promote_types, "a"_a, "b"_a, "The dtype two dtypes promote to (NumPy rules).");

  nb::class_<array> cls(m, "array", nb::type_slots(array_slots), "A lazy n-dimensional array.");
  cls.def(
         "__init__",
         [](array* self, nb::object val, std::optional<Dtype> dtype) { new (self) array(to_array(val, dtype)); },
         "val"_a, "dtype"_a = nb::none(),
         nb::sig("def __init__(self, val: array | bool | int | float | complex | list | tuple | object, "
                 "dtype: Dtype | None = None) -> None"),
         "Creates an array from a scalar, nested list, NumPy array, buffer or DLPack object (copying the data).")
      .def_prop_ro("shape", [](const array& a) { return nb::tuple(nb::cast(a.shape())); }, "The shape as a tuple.")
      .def_prop_ro("dtype", &array::dtype, "The element type.")
      .def_prop_ro("ndim", &array::ndim, "Number of dimensions.")
      .def_prop_ro("size", &array::size, "Number of elements.")
      .def_prop_ro("itemsize", &array::itemsize, "Bytes per element.")
      .def_prop_ro("nbytes", &array::nbytes, "Bytes of all elements.")
      .def_prop_ro("T", [](const array& a) { return transpose(a); }, "The transpose (axes reversed).")
      .def("item", [](const array& a) { return txpy::to_item(a); }, "The value of a size-1 array as a Python scalar.")
      .def("tolist", [](const array& a) { return txpy::to_list(a); }, "Nested Python lists of the values.")
      .def("numpy", [](const array& a) { return txpy::to_numpy(a); },
           "A NumPy array sharing the evaluated data (zero-copy; writes show through).")
      .def(
          "__array__",
          [](const array& a, nb::object dtype, nb::object copy) {
            // A requested copy reads through a read-only view, so the array is not marked exported
            // (an exported buffer's device copy is re-uploaded on every GPU use).
            bool want_copy = !copy.is_none() && nb::cast<bool>(copy);
            nb::object out = want_copy ? txpy::to_numpy_copy(a) : txpy::to_numpy(a);
            if (!dtype.is_none()) out = out.attr("astype")(dtype);
            return out;
          },
          "dtype"_a = nb::none(), "copy"_a = nb::none(), "NumPy conversion (zero-copy unless asked).")
      .def(
          "__dlpack__",
          [](const array& a, nb::handle stream, nb::handle max_version, nb::handle dl_device, nb::handle copy) {
            return txpy::to_dlpack(a, stream, dl_device, copy);
          },
          nb::kw_only(), "stream"_a.none() = nb::none(), "max_version"_a.none() = nb::none(),
          "dl_device"_a.none() = nb::none(), "copy"_a.none() = nb::none(),
          "A DLPack capsule sharing the evaluated array's memory: the host copy, or the device copy when "
          "the data lives only on the GPU (see __dlpack_device__) or dl_device=(2, 0) asks for it. The "
          "data is complete when the capsule is returned, so any consumer stream may read it at once.")
      .def("__dlpack_device__", [](const array& a) { return txpy::dlpack_device(a); },
           "(1, 0) for the CPU (kDLCPU) or (2, 0) for CUDA device 0 (kDLCUDA), where the evaluated data lives.")
      .def("astype", [](const array& a, Dtype d, StreamOrDevice s) { return astype(a, d, s); }, "dtype"_a, TX_STREAM,
           "Casts to ``dtype``.")
      .def(
          "reshape",
          [](const array& a, nb::args shape, StreamOrDevice s) { return reshape(a, shape_from_args(shape), s); },
          "shape"_a, "stream"_a = nb::none(), nb::sig("def reshape(self, *shape: int | list[int] | tuple[int, ...], stream: Stream | Device | None = None) -> array"),
          "Reshapes: ``a.reshape(2, 3)`` or ``a.reshape((2, 3))``.")
      .def(
          "transpose",
          [](const array& a, nb::args axes, StreamOrDevice s) {
            if (axes.size() == 0) return transpose(a, s);
            Shape ax = shape_from_args(axes);
            return transpose(a, std::vector<int>(ax.begin(), ax.end()), s);
          },
          "axes"_a, "stream"_a = nb::none(), nb::sig("def transpose(self, *axes: int | list[int] | tuple[int, ...], stream: Stream | Device | None = None) -> array"),
          "Permutes the axes (reverses them without arguments).")
      .def("swapaxes", [](const array& a, int a1, int a2, StreamOrDevice s) { return swapaxes(a, a1, a2, s); },
           "axis1"_a, "axis2"_a, TX_STREAM, "Swaps two axes.")
      .def("moveaxis", [](const array& a, int src, int dst, StreamOrDevice s) { return moveaxis(a, src, dst, s); },
           "source"_a, "destination"_a, TX_STREAM, "Moves an axis.")
      .def("flatten", [](const array& a, int sa, int ea, StreamOrDevice s) { return flatten(a, sa, ea, s); },
           "start_axis"_a = 0, "end_axis"_a = -1, TX_STREAM, "Flattens axes start_axis..end_axis into one.")
      .def(
          "squeeze",
          [](const array& a, OptAxes axis, StreamOrDevice s) {
            return axis ? squeeze(a, txpy::to_vec(*axis), s) : squeeze(a, s);
          },
          "axis"_a = nb::none(), TX_STREAM, "Removes size-1 axes.")
      .def("split",
           [](const array& a, IntOrVec sections, int axis, StreamOrDevice s) {
             return txpy::split_op(a, sections, axis, s);
           },
           "indices_or_sections"_a, "axis"_a = 0, TX_STREAM, "See :func:`split`.")
      .def("diag", [](const array& a, int k, StreamOrDevice s) { return diag(a, k, s); }, "k"_a = 0, TX_STREAM,
           "See :func:`diag`.")
      .def("diagonal",
           [](const array& a, int offset, int a1, int a2, StreamOrDevice s) { return diagonal(a, offset, a1, a2, s); },
           "offset"_a = 0, "axis1"_a = 0, "axis2"_a = 1, TX_STREAM, "See :func:`diagonal`.")
      .def("round", [](const array& a, int decimals, StreamOrDevice s) { return round(a, decimals, s); },
           "decimals"_a = 0, TX_STREAM, "Rounds half to even at ``decimals`` digits.")
      .def("conj", [](const array& a, StreamOrDevice s) { return conjugate(a, s); }, TX_STREAM, "Complex conjugate.")
      .def_prop_ro("real", [](const array& a) { return real(a); }, "The real part.")
      .def_prop_ro("imag", [](const array& a) { return imag(a); }, "The imaginary part.")
      TX_UNARY_METHOD(abs, "Absolute value.")
      TX_UNARY_METHOD(exp, "Exponential.")
      TX_UNARY_METHOD(log, "Natural logarithm.")
      TX_UNARY_METHOD(log1p, "log(1 + a).")
      TX_UNARY_METHOD(log2, "Base-2 logarithm.")
      TX_UNARY_METHOD(log10, "Base-10 logarithm.")
      TX_UNARY_METHOD(sqrt, "Square root.")
      TX_UNARY_METHOD(rsqrt, "Reciprocal square root.")
      TX_UNARY_METHOD(square, "Square.")
      TX_UNARY_METHOD(reciprocal, "1 / a.")
      TX_UNARY_METHOD(sin, "Sine.")
      TX_UNARY_METHOD(cos, "Cosine.")
      TX_REDUCE_METHOD(sum)
      TX_REDUCE_METHOD(prod)
      TX_REDUCE_METHOD(max)
      TX_REDUCE_METHOD(min)
      TX_REDUCE_METHOD(mean)
      TX_REDUCE_METHOD(all)
      TX_REDUCE_METHOD(any)
      TX_REDUCE_METHOD(logsumexp)
      .def("var",
           [](const array& a, OptAxes axis, bool keepdims, int ddof, StreamOrDevice s) {
             return txpy::var_op(false, a, axis, keepdims, ddof, s);
           },
           "axis"_a = nb::none(), "keepdims"_a = false, "ddof"_a = 0, TX_STREAM, "See :func:`var`.")
      .def("std",
           [](const array& a, OptAxes axis, bool keepdims, int ddof, StreamOrDevice s) {
             return txpy::var_op(true, a, axis, keepdims, ddof, s);
           },
           "axis"_a = nb::none(), "keepdims"_a = false, "ddof"_a = 0, TX_STREAM, "See :func:`std`.")
      .def("argmax",
           [](const array& a, std::optional<int> axis, bool keepdims, StreamOrDevice s) {
             return txpy::arg_reduce_op(true, a, axis, keepdims, s);
           },
           "axis"_a = nb::none(), "keepdims"_a = false, TX_STREAM, "See :func:`argmax`.")
      .def("argmin",
           [](const array& a, std::optional<int> axis, bool keepdims, StreamOrDevice s) {
             return txpy::arg_reduce_op(false, a, axis, keepdims, s);
           },
           "axis"_a = nb::none(), "keepdims"_a = false, TX_STREAM, "See :func:`argmin`.")
      TX_SCAN_METHOD(cumsum)
      TX_SCAN_METHOD(cumprod)
      TX_SCAN_METHOD(cummax)
      TX_SCAN_METHOD(cummin)
      .def("__len__",
           [](const array& a) {
             if (a.ndim() == 0) throw nb::type_error("len() of unsized array");
             return a.shape(0);
           })
      .def("__iter__",
           [](const array& a) {
             if (a.ndim() == 0) throw nb::type_error("iteration over a 0-d array");
             nb::list rows;
             for (int i = 0; i < a.shape(0); ++i) rows.append(take(a, i, 0));
             return nb::iter(rows);
           })
      .def("__bool__",
           [](const array& a) {
             if (a.size() != 1) {
               throw std::invalid_argument("The truth value of an array with more than one element is ambiguous.");
             }
             return nb::cast<bool>(txpy::to_item(astype(a, bool_)));
           })
      .def("__int__", [](const array& a) { return nb::int_(txpy::to_item(a)); })
      .def("__float__", [](const array& a) { return nb::float_(txpy::to_item(a)); })
      .def("__index__",
           [](const array& a) {
             if (!is_integral(a.dtype()) || a.size() != 1) {
               throw nb::type_error("only integer scalar arrays can be converted to a scalar index");
             }
             return nb::int_(txpy::to_item(a));
           })
      .def("__hash__", [](const array& a) { return static_cast<Py_ssize_t>(a.id()); })
      .def("__repr__", [](const array& a) { return txpy::array_repr(a); })
      .def("__copy__", [](const array& a) { return copy(a); })
      .def("__deepcopy__", [](const array& a, nb::handle) { return copy(a); }, "memo"_a)
      .def("__getitem__", [](const array& a, nb::handle idx) { return txpy::getitem(a, idx); }, "idx"_a.none())
      .def("__setitem__", [](array& a, nb::handle idx, nb::handle v) { a = txpy::setitem(a, idx, v); }, "idx"_a.none(),
           "value"_a)
      .def("__array_namespace__", [](const array&, nb::kwargs) { return nb::module_::import_("tessera.core"); },
           "The array API namespace (tessera.core).")
      // Arithmetic (Python scalars take the array's dtype; `a += b` rebinds `a` as in MLX).
      TX_BINOP("add", add)
      TX_BINOP("sub", subtract)
      TX_BINOP("mul", multiply)
      TX_BINOP("truediv", divide)
      TX_BINOP("floordiv", floor_divide)
      TX_BINOP("mod", remainder)
      TX_BINOP("pow", power)
      TX_BINOP("matmul", matmul)
      TX_BINOP("and", bitwise_and)
      TX_BINOP("or", bitwise_or)
      TX_BINOP("xor", bitwise_xor)
      TX_BINOP("lshift", left_shift)
      TX_BINOP("rshift", right_shift)
      TX_CMP("eq", equal)
      TX_CMP("ne", not_equal)
      TX_CMP("lt", less)
      TX_CMP("le", less_equal)
      TX_CMP("gt", greater)
      TX_CMP("ge", greater_equal)
      .def("__neg__", [](const array& a) { return negative(a); })
      .def("__pos__", [](const array& a) { return a; })
      .def("__abs__", [](const array& a) { return abs(a); })
      .def("__invert__", [](const array& a) { return bitwise_invert(a); });
}
