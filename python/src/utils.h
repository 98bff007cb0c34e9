// Helpers shared by the binding files: argument casters (stream=, array-likes), conversions, eval.
#pragma once
#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/variant.h>
#include <nanobind/stl/vector.h>

#include <optional>
#include <variant>
#include <vector>

#include "tessera/tessera.h"

namespace nb = nanobind;
using namespace nb::literals;

// Anything that converts to an array: an array, a Python scalar, a (nested) sequence, a NumPy
// array, a buffer or a DLPack object. Python scalars stay "weak" until paired with an array.
struct ArrayLike {
  nb::object obj;
};

// `axis` / `axes` arguments: an int or a sequence of ints (None = all axes).
using IntOrVec = std::variant<int, std::vector<int>>;
using OptAxes = std::optional<IntOrVec>;

namespace nanobind::detail {

template <>
struct type_caster<tessera::StreamOrDevice> {
  NB_TYPE_CASTER(tessera::StreamOrDevice, make_caster<tessera::Stream>::Name + const_name(" | ") +
                                              make_caster<tessera::Device>::Name + const_name(" | ") +
                                              make_caster<tessera::Device::DeviceType>::Name)
  bool from_python(handle src, uint8_t, cleanup_list*) noexcept {
    if (src.is_none()) {
      value = {};
      return true;
    }
    if (nb::isinstance<tessera::Stream>(src)) {
      value = tessera::StreamOrDevice(nb::cast<tessera::Stream>(src));
      return true;
    }
    if (nb::isinstance<tessera::Device>(src)) {
      value = tessera::StreamOrDevice(nb::cast<tessera::Device>(src));
      return true;
    }
    if (nb::isinstance<tessera::Device::DeviceType>(src)) {
      value = tessera::StreamOrDevice(nb::cast<tessera::Device::DeviceType>(src));
      return true;
    }
    return false;
  }
  static handle from_cpp(const tessera::StreamOrDevice& v, rv_policy, cleanup_list*) noexcept {
    switch (v.kind) {
      case tessera::StreamOrDevice::Kind::stream: return nb::cast(v.stream).release();
      case tessera::StreamOrDevice::Kind::device: return nb::cast(v.device).release();
      default: return nb::none().release();
    }
  }
};

template <>
struct type_caster<ArrayLike> {
  NB_TYPE_CASTER(ArrayLike, make_caster<tessera::array>::Name + const_name(" | bool | int | float | complex | list | tuple"))
  bool from_python(handle src, uint8_t, cleanup_list*) noexcept {
    if (src.is_none()) return false;
    value.obj = nb::borrow(src);
    return true;
  }
  static handle from_cpp(const ArrayLike& v, rv_policy, cleanup_list*) noexcept { return v.obj.inc_ref(); }
};

}  // namespace nanobind::detail

// Keyword-only `stream=None` that every op takes.
#define TX_STREAM nb::kw_only(), nb::arg("stream") = nb::none()

namespace txpy {

using tessera::array;
using tessera::Dtype;
using tessera::StreamOrDevice;

bool is_python_scalar(nb::handle h);
// Any supported object -> array (lists via NumPy's inference with MLX's defaults; copies data).
array to_array(nb::handle obj, std::optional<Dtype> dtype = std::nullopt);
inline array to_array(const ArrayLike& a, std::optional<Dtype> dtype = std::nullopt) { return to_array(a.obj, dtype); }
// A Python scalar next to an array of dtype `other`: MLX's rule (scalars do not upcast arrays).
array scalar_like(nb::handle scalar, Dtype other);
// Two operands of a binary op, with the scalar rule applied to either side.
std::pair<array, array> to_arrays(nb::handle a, nb::handle b);
inline std::pair<array, array> to_arrays(const ArrayLike& a, const ArrayLike& b) { return to_arrays(a.obj, b.obj); }

// Evaluated array -> NumPy array sharing its memory (keeps the array alive).
nb::object to_numpy(array a);
// A NumPy copy of the evaluated array (reads through a read-only view: the array is not marked exported).
nb::object to_numpy_copy(array a);
// Evaluated array -> Python scalar / nested lists.
nb::object to_item(array a);
nb::object to_list(array a);
std::string array_repr(array a);
// DLPack export of the evaluated array (zero-copy): its host copy, or its device copy when that is
// the only valid one (CUDA builds) or dl_device asks for it; the __dlpack__ protocol's arguments.
nb::object to_dlpack(array a, nb::handle stream, nb::handle dl_device, nb::handle copy);
// (kDLCPU, 0) or, for an array whose valid copy lives only on the GPU, (kDLCUDA, 0).
std::pair<int, int> dlpack_device(array a);
// DLPack import that shares the producer's memory where it can (see tessera.core.from_dlpack).
array from_dlpack(nb::handle obj, std::optional<bool> copy);

// eval with the GIL released that still lets Ctrl-C interrupt the wait.
void eval_arrays(std::vector<array> arrays);
// Collects the arrays in a tree of lists/tuples/dicts/arrays.
void collect_arrays(nb::handle tree, std::vector<array>& out);

// Axes helpers.
std::vector<int> all_axes(const array& a);
std::vector<int> to_axes(const array& a, const OptAxes& axes);  // None -> all axes
std::vector<int> to_vec(const IntOrVec& v);
tessera::Shape to_shape(const IntOrVec& v);

// Method-style helpers shared by array methods and module functions.
array reduce_op(const char* name, const array& a, const OptAxes& axis, bool keepdims, StreamOrDevice s);
array var_op(bool is_std, const array& a, const OptAxes& axis, bool keepdims, int ddof, StreamOrDevice s);
array arg_reduce_op(bool is_max, const array& a, std::optional<int> axis, bool keepdims, StreamOrDevice s);
array scan_op(const char* name, const array& a, std::optional<int> axis, bool reverse, bool inclusive,
              StreamOrDevice s);
std::vector<array> split_op(const array& a, const IntOrVec& sections, int axis, StreamOrDevice s);

// Indexing.
array getitem(const array& a, nb::handle idx);
array setitem(const array& a, nb::handle idx, nb::handle value);

}  // namespace txpy
