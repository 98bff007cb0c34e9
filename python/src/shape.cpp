// Bindings for tessera/ops/shape.h and tessera/ops/manipulation.h: reshape, transpose, concatenate, pad, ...
#include "utils.h"

using namespace tessera;
using txpy::to_array;

namespace txpy {

std::vector<array> split_op(const array& a, const IntOrVec& sections, int axis, StreamOrDevice s) {
  if (auto* n = std::get_if<int>(&sections)) return split(a, *n, axis, s);
  auto idx = std::get<std::vector<int>>(sections);
  return split(a, Shape(idx.begin(), idx.end()), axis, s);
}

}  // namespace txpy

namespace {

std::vector<array> to_array_list(const std::vector<ArrayLike>& xs) {
  std::vector<array> out;
  for (auto& x : xs) out.push_back(to_array(x));
  return out;
}

}  // namespace

void init_shape(nb::module_& m) {
  m.def("astype", [](const ArrayLike& a, Dtype d, StreamOrDevice s) { return astype(to_array(a), d, s); }, "a"_a,
        "dtype"_a, TX_STREAM, "Casts to ``dtype``.");
  m.def("copy", [](const ArrayLike& a, StreamOrDevice s) { return copy(to_array(a), s); }, "a"_a, TX_STREAM,
        "A copy of the array.");
  m.def("contiguous", [](const ArrayLike& a, StreamOrDevice s) { return contiguous(to_array(a), s); }, "a"_a,
        TX_STREAM, "A row-major contiguous copy.");
  m.def("reshape", [](const ArrayLike& a, const IntOrVec& shape, StreamOrDevice s) {
          return reshape(to_array(a), txpy::to_shape(shape), s);
        },
        "a"_a, "shape"_a, TX_STREAM, "Reshapes (one dimension may be -1).");
  m.def("flatten",
        [](const ArrayLike& a, int sa, int ea, StreamOrDevice s) { return flatten(to_array(a), sa, ea, s); }, "a"_a,
        "start_axis"_a = 0, "end_axis"_a = -1, TX_STREAM, "Flattens axes start_axis..end_axis into one.");
  m.def("squeeze",
        [](const ArrayLike& a, OptAxes axis, StreamOrDevice s) {
          return axis ? squeeze(to_array(a), txpy::to_vec(*axis), s) : squeeze(to_array(a), s);
        },
        "a"_a, "axis"_a = nb::none(), TX_STREAM, "Removes size-1 axes (all of them when None).");
  m.def("expand_dims",
        [](const ArrayLike& a, const IntOrVec& axis, StreamOrDevice s) {
          return expand_dims(to_array(a), txpy::to_vec(axis), s);
        },
        "a"_a, "axis"_a, TX_STREAM, "Inserts size-1 axes.");
  m.def("broadcast_to",
        [](const ArrayLike& a, const IntOrVec& shape, StreamOrDevice s) {
          return broadcast_to(to_array(a), txpy::to_shape(shape), s);
        },
        "a"_a, "shape"_a, TX_STREAM, "Broadcasts to ``shape`` (a view).");
  m.def("broadcast_arrays",
        [](nb::args arrays, StreamOrDevice s) {
          std::vector<array> xs;
          for (auto h : arrays) xs.push_back(to_array(h));
          return broadcast_arrays(xs, s);
        },
        "arrays"_a, "stream"_a = nb::none(), nb::sig("def broadcast_arrays(*arrays: array, stream: Stream | Device | None = None) -> list[array]"),
        "Broadcasts the arrays against each other.");
  m.def("transpose",
        [](const ArrayLike& a, std::optional<std::vector<int>> axes, StreamOrDevice s) {
          return axes ? transpose(to_array(a), *axes, s) : transpose(to_array(a), s);
        },
        "a"_a, "axes"_a = nb::none(), TX_STREAM, "Permutes the axes (reverses them when None).");
  m.def("swapaxes",
        [](const ArrayLike& a, int a1, int a2, StreamOrDevice s) { return swapaxes(to_array(a), a1, a2, s); }, "a"_a,
        "axis1"_a, "axis2"_a, TX_STREAM, "Swaps two axes.");
  m.def("moveaxis",
        [](const ArrayLike& a, int src, int dst, StreamOrDevice s) { return moveaxis(to_array(a), src, dst, s); },
        "a"_a, "source"_a, "destination"_a, TX_STREAM, "Moves an axis to a new position.");
  m.def("as_strided",
        [](const ArrayLike& a, std::optional<std::vector<int>> shape, std::optional<std::vector<int64_t>> strides,
           int64_t offset, StreamOrDevice s) {
          array x = to_array(a);
          Shape sh = shape ? Shape(shape->begin(), shape->end()) : x.shape();
          Strides st = strides ? Strides(strides->begin(), strides->end()) : row_major_strides(sh);
          return as_strided(x, sh, st, offset, s);
        },
        "a"_a, "shape"_a = nb::none(), "strides"_a = nb::none(), "offset"_a = 0, TX_STREAM,
        "A view with the given shape, strides (in elements) and offset.");
  m.def("slice",
        [](const ArrayLike& a, const ArrayLike& start, const std::vector<int>& axes, const std::vector<int>& size,
           StreamOrDevice s) {
          return dynamic_slice(to_array(a), to_array(start), axes, Shape(size.begin(), size.end()), s);
        },
        "a"_a, "start_indices"_a, "axes"_a, "slice_size"_a, TX_STREAM,
        "A slice of ``slice_size`` starting at the (array) ``start_indices`` along ``axes``.");
  m.def("slice_update",
        [](const ArrayLike& a, const ArrayLike& update, const ArrayLike& start, const std::vector<int>& axes,
           StreamOrDevice s) { return dynamic_slice_update(to_array(a), to_array(update), to_array(start), axes, s); },
        "a"_a, "update"_a, "start_indices"_a, "axes"_a, TX_STREAM,
        "``a`` with ``update`` written at the (array) ``start_indices`` along ``axes``.");

  m.def("concatenate",
        [](const std::vector<ArrayLike>& xs, std::optional<int> axis, StreamOrDevice s) {
          auto arrays = to_array_list(xs);
          return axis ? concatenate(arrays, *axis, s) : concatenate(arrays, s);
        },
        "arrays"_a, "axis"_a = 0, TX_STREAM, "Joins arrays along ``axis`` (flattened when None).");
  m.def("concat",
        [](const std::vector<ArrayLike>& xs, std::optional<int> axis, StreamOrDevice s) {
          auto arrays = to_array_list(xs);
          return axis ? concatenate(arrays, *axis, s) : concatenate(arrays, s);
        },
        "arrays"_a, "axis"_a = 0, TX_STREAM, "Alias of :func:`concatenate`.");
  m.def("stack",
        [](const std::vector<ArrayLike>& xs, int axis, StreamOrDevice s) { return stack(to_array_list(xs), axis, s); },
        "arrays"_a, "axis"_a = 0, TX_STREAM, "Joins same-shaped arrays along a new axis.");
  m.def("split",
        [](const ArrayLike& a, const IntOrVec& sections, int axis, StreamOrDevice s) {
          return txpy::split_op(to_array(a), sections, axis, s);
        },
        "a"_a, "indices_or_sections"_a, "axis"_a = 0, TX_STREAM,
        "Splits into equal sections (an int) or at the given indices (a list).");
  m.def("tile",
        [](const ArrayLike& a, const IntOrVec& reps, StreamOrDevice s) { return tile(to_array(a), txpy::to_vec(reps), s); },
        "a"_a, "reps"_a, TX_STREAM, "Repeats the whole array ``reps`` times per axis.");
  m.def("repeat",
        [](const ArrayLike& a, int repeats, std::optional<int> axis, StreamOrDevice s) {
          return axis ? repeat(to_array(a), repeats, *axis, s) : repeat(to_array(a), repeats, s);
        },
        "array"_a, "repeats"_a, "axis"_a = nb::none(), TX_STREAM,
        "Repeats each element ``repeats`` times along ``axis`` (flattened when None).");
  m.def("pad",
        [](const ArrayLike& a, nb::handle pad_width, const std::string& mode, const ArrayLike& value,
           StreamOrDevice s) {
          array x = to_array(a);
          array v = txpy::to_arrays(nb::cast(x), value.obj).second;
          if (nb::isinstance<nb::int_>(pad_width)) return pad(x, nb::cast<int>(pad_width), v, mode, s);
          std::vector<nb::object> items = nb::cast<std::vector<nb::object>>(pad_width);
          if (items.size() == 2 && nb::isinstance<nb::int_>(items[0]) && nb::isinstance<nb::int_>(items[1])) {
            return pad(x, std::make_pair(nb::cast<int>(items[0]), nb::cast<int>(items[1])), v, mode, s);
          }
          std::vector<std::pair<int, int>> widths;
          for (auto& it : items) {
            if (nb::isinstance<nb::int_>(it)) widths.emplace_back(nb::cast<int>(it), nb::cast<int>(it));
            else {
              auto p = nb::cast<std::vector<int>>(it);
              if (p.size() == 1) widths.emplace_back(p[0], p[0]);
              else if (p.size() == 2) widths.emplace_back(p[0], p[1]);
              else throw std::invalid_argument("[pad] each pad width must be an int or a (low, high) pair.");
            }
          }
          if (widths.size() == 1 && x.ndim() != 1) return pad(x, widths[0], v, mode, s);
          return pad(x, widths, v, mode, s);
        },
        "a"_a, "pad_width"_a, "mode"_a = "constant", "constant_values"_a = 0, TX_STREAM,
        nb::sig("def pad(a: array, pad_width: int | tuple[int, int] | list[tuple[int, int]], mode: str = 'constant', "
                "constant_values: array | float | int = 0, *, stream: Stream | Device | None = None) -> array"),
        "Pads with a constant (mode 'constant') or the edge values (mode 'edge').");
  m.def("roll",
        [](const ArrayLike& a, const IntOrVec& shift, OptAxes axis, StreamOrDevice s) {
          array x = to_array(a);
          if (!axis) {
            if (auto* n = std::get_if<int>(&shift)) return roll(x, *n, s);
            throw std::invalid_argument("[roll] a shift per axis needs axis.");
          }
          auto axes = txpy::to_vec(*axis);
          if (auto* n = std::get_if<int>(&shift)) return roll(x, *n, axes, s);
          return roll(x, txpy::to_shape(shift), axes, s);
        },
        "a"_a, "shift"_a, "axis"_a = nb::none(), TX_STREAM,
        "Shifts elements along ``axis`` with wrap-around (flattened when None).");
  m.def("diag", [](const ArrayLike& a, int k, StreamOrDevice s) { return diag(to_array(a), k, s); }, "a"_a, "k"_a = 0,
        TX_STREAM, "A 1-D array's diagonal matrix, or a 2-D array's diagonal ``k``.");
  m.def("diagonal",
        [](const ArrayLike& a, int offset, int a1, int a2, StreamOrDevice s) {
          return diagonal(to_array(a), offset, a1, a2, s);
        },
        "a"_a, "offset"_a = 0, "axis1"_a = 0, "axis2"_a = 1, TX_STREAM,
        "The diagonals of the (axis1, axis2) planes, as the last axis.");
  m.def("tril", [](const ArrayLike& a, int k, StreamOrDevice s) { return tril(to_array(a), k, s); }, "x"_a, "k"_a = 0,
        TX_STREAM, "Zeros above diagonal ``k``.");
  m.def("triu", [](const ArrayLike& a, int k, StreamOrDevice s) { return triu(to_array(a), k, s); }, "x"_a, "k"_a = 0,
        TX_STREAM, "Zeros below diagonal ``k``.");
  m.def("flip",
        [](const ArrayLike& a, OptAxes axis, StreamOrDevice s) {
          return axis ? flip(to_array(a), txpy::to_vec(*axis), s) : flip(to_array(a), s);
        },
        "a"_a, "axis"_a = nb::none(), TX_STREAM, "Reverses the order of elements along ``axis`` (all when None).");
}
