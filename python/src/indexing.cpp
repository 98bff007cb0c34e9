// Bindings for tessera/ops/indexing.h: a[idx] / a[idx] = v (NumPy rules), take, take_along_axis, put_along_axis.
#include "utils.h"

using namespace tessera;
using txpy::to_array;

namespace txpy {

namespace {

Index to_index(nb::handle h) {
  if (h.is_none()) return newaxis;
  if (h.ptr() == Py_Ellipsis) return ellipsis;
  if (nb::isinstance<nb::int_>(h) && !nb::isinstance<nb::bool_>(h)) return nb::cast<int64_t>(h);
  if (PySlice_Check(h.ptr())) {
    auto get = [&](const char* name) -> std::optional<int64_t> {
      nb::object v = h.attr(name);
      if (v.is_none()) return std::nullopt;
      return nb::cast<int64_t>(v);
    };
    return SliceIndex{get("start"), get("stop"), get("step")};
  }
  if (nb::isinstance<array>(h) || nb::isinstance<nb::list>(h) || nb::isinstance<nb::bool_>(h) ||
      nb::hasattr(h, "__array__") || nb::hasattr(h, "__dlpack__")) {
    return to_array(h);
  }
  throw nb::type_error(("[index] cannot index with " + nb::cast<std::string>(nb::str(h.type())) + ".").c_str());
}

std::vector<Index> to_indices(nb::handle idx) {
  std::vector<Index> out;
  if (nb::isinstance<nb::tuple>(idx)) {
    for (auto h : idx) out.push_back(to_index(h));
  } else {
    out.push_back(to_index(idx));
  }
  return out;
}

}  // namespace

array getitem(const array& a, nb::handle idx) { return index(a, to_indices(idx)); }

array setitem(const array& a, nb::handle idx, nb::handle value) {
  array v = is_python_scalar(value) ? scalar_like(value, a.dtype()) : to_array(value);
  return index_update(a, to_indices(idx), v);
}

}  // namespace txpy

void init_indexing(nb::module_& m) {
  m.def("take",
        [](const ArrayLike& a, const ArrayLike& indices, std::optional<int> axis, StreamOrDevice s) {
          array x = to_array(a);
          if (nb::isinstance<nb::int_>(indices.obj)) {
            int i = nb::cast<int>(indices.obj);
            return axis ? take(x, i, *axis, s) : take(x, i, s);
          }
          array idx = to_array(indices);
          return axis ? take(x, idx, *axis, s) : take(x, idx, s);
        },
        "a"_a, "indices"_a, "axis"_a = nb::none(), TX_STREAM,
        "Elements at ``indices`` along ``axis`` (of the flattened array when None).");
  m.def("take_along_axis",
        [](const ArrayLike& a, const ArrayLike& indices, std::optional<int> axis, StreamOrDevice s) {
          array x = to_array(a);
          if (!axis) return take_along_axis(flatten(x), flatten(to_array(indices)), 0, s);
          return take_along_axis(x, to_array(indices), *axis, s);
        },
        "a"_a, "indices"_a, "axis"_a.none(), TX_STREAM, "Elements at ``indices`` (same ndim as a) along ``axis``.");
  m.def("put_along_axis",
        [](const ArrayLike& a, const ArrayLike& indices, const ArrayLike& values, std::optional<int> axis,
           StreamOrDevice s) {
          array x = to_array(a);
          array v = txpy::to_arrays(nb::cast(x), values.obj).second;
          if (!axis) {
            return reshape(put_along_axis(flatten(x), flatten(to_array(indices)), flatten(v), 0, s), x.shape(), s);
          }
          return put_along_axis(x, to_array(indices), v, *axis, s);
        },
        "a"_a, "indices"_a, "values"_a, "axis"_a.none(), TX_STREAM,
        "``a`` with ``values`` written at ``indices`` along ``axis``.");
}
