// Bindings for tessera/ops/creation.h: zeros, ones, full, arange, linspace, eye, identity, tri.
#include "utils.h"

using namespace tessera;

void init_creation(nb::module_& m) {
  m.def("zeros", [](const IntOrVec& shape, Dtype d, StreamOrDevice s) { return zeros(txpy::to_shape(shape), d, s); },
        "shape"_a, "dtype"_a = float32, TX_STREAM, "An array of zeros.");
  m.def("ones", [](const IntOrVec& shape, Dtype d, StreamOrDevice s) { return ones(txpy::to_shape(shape), d, s); },
        "shape"_a, "dtype"_a = float32, TX_STREAM, "An array of ones.");
  m.def("full",
        [](const IntOrVec& shape, const ArrayLike& vals, std::optional<Dtype> d, StreamOrDevice s) {
          array v = txpy::to_array(vals, d);
          return full(txpy::to_shape(shape), v, v.dtype(), s);
        },
        "shape"_a, "vals"_a, "dtype"_a = nb::none(), TX_STREAM, "An array of ``shape`` filled with ``vals`` (broadcast).");
  m.def("zeros_like", [](const ArrayLike& a, StreamOrDevice s) { return zeros_like(txpy::to_array(a), s); }, "a"_a,
        TX_STREAM, "Zeros with the shape and dtype of ``a``.");
  m.def("ones_like", [](const ArrayLike& a, StreamOrDevice s) { return ones_like(txpy::to_array(a), s); }, "a"_a,
        TX_STREAM, "Ones with the shape and dtype of ``a``.");
  m.def("full_like",
        [](const ArrayLike& a, const ArrayLike& vals, StreamOrDevice s) {
          auto [x, v] = txpy::to_arrays(a, vals);
          return full_like(x, v, s);
        },
        "a"_a, "vals"_a, TX_STREAM, "``vals`` broadcast to the shape and dtype of ``a``.");
  m.def(
      "arange",
      [](nb::handle start, nb::handle stop, nb::handle step, std::optional<Dtype> dtype, StreamOrDevice s) {
        bool has_stop = !stop.is_none();
        nb::object lo = has_stop ? nb::borrow(start) : nb::object(nb::int_(0));
        nb::object hi = nb::borrow(has_stop ? stop : start);
        bool all_int = nb::isinstance<nb::int_>(lo) && nb::isinstance<nb::int_>(hi) &&
                       (step.is_none() || nb::isinstance<nb::int_>(step));
        double st = step.is_none() ? 1.0 : nb::cast<double>(step);
        Dtype d = dtype.value_or(all_int ? int32 : float32);
        return arange(nb::cast<double>(lo), nb::cast<double>(hi), st, d, s);
      },
      "start"_a, "stop"_a.none() = nb::none(), "step"_a.none() = nb::none(), "dtype"_a = nb::none(), TX_STREAM,
      nb::sig("def arange(start: int | float, stop: int | float | None = None, step: int | float | None = None, "
              "dtype: Dtype | None = None, *, stream: Stream | Device | None = None) -> array"),
      "Values from start (default 0) up to stop by step; int32 for int arguments, else float32.");
  m.def("linspace",
        [](double start, double stop, int num, Dtype d, StreamOrDevice s) { return linspace(start, stop, num, d, s); },
        "start"_a, "stop"_a, "num"_a = 50, "dtype"_a = float32, TX_STREAM, "``num`` evenly spaced values, ends included.");
  m.def("eye",
        [](int n, std::optional<int> mm, int k, Dtype d, StreamOrDevice s) { return eye(n, mm.value_or(n), k, d, s); },
        "n"_a, "m"_a = nb::none(), "k"_a = 0, "dtype"_a = float32, TX_STREAM, "Ones on diagonal ``k``, zeros elsewhere.");
  m.def("identity", [](int n, Dtype d, StreamOrDevice s) { return identity(n, d, s); }, "n"_a, "dtype"_a = float32,
        TX_STREAM, "The n x n identity matrix.");
  m.def("tri",
        [](int n, std::optional<int> mm, int k, Dtype d, StreamOrDevice s) { return tri(n, mm.value_or(n), k, d, s); },
        "n"_a, "m"_a = nb::none(), "k"_a = 0, "dtype"_a = float32, TX_STREAM,
        "Ones at and below diagonal ``k``, zeros above.");
}
