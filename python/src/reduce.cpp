// Bindings for tessera/ops/reduce.h: reductions, arg-reductions, scans, softmax.
#include "utils.h"

using namespace tessera;

namespace txpy {

std::vector<int> all_axes(const array& a) {
  std::vector<int> ax(a.ndim());
  for (int i = 0; i < a.ndim(); ++i) ax[i] = i;
  return ax;
}

std::vector<int> to_vec(const IntOrVec& v) {
  if (auto* i = std::get_if<int>(&v)) return {*i};
  return std::get<std::vector<int>>(v);
}

Shape to_shape(const IntOrVec& v) {
  auto vec = to_vec(v);
  return Shape(vec.begin(), vec.end());
}

std::vector<int> to_axes(const array& a, const OptAxes& axes) { return axes ? to_vec(*axes) : all_axes(a); }

array reduce_op(const char* name, const array& a, const OptAxes& axis, bool keepdims, StreamOrDevice s) {
  auto ax = to_axes(a, axis);
  std::string n = name;
  if (n == "sum") return sum(a, ax, keepdims, s);
  if (n == "prod") return prod(a, ax, keepdims, s);
  if (n == "max") return max(a, ax, keepdims, s);
  if (n == "min") return min(a, ax, keepdims, s);
  if (n == "mean") return mean(a, ax, keepdims, s);
  if (n == "all") return all(a, ax, keepdims, s);
  if (n == "any") return any(a, ax, keepdims, s);
  if (n == "logsumexp") return logsumexp(a, ax, keepdims, s);
  throw std::invalid_argument("[reduce] unknown reduction " + n + ".");
}

array var_op(bool is_std, const array& a, const OptAxes& axis, bool keepdims, int ddof, StreamOrDevice s) {
  auto ax = to_axes(a, axis);
  return is_std ? tessera::std(a, ax, keepdims, ddof, s) : var(a, ax, keepdims, ddof, s);
}

array arg_reduce_op(bool is_max, const array& a, std::optional<int> axis, bool keepdims, StreamOrDevice s) {
  if (axis) return is_max ? argmax(a, *axis, keepdims, s) : argmin(a, *axis, keepdims, s);
  return is_max ? argmax(a, keepdims, s) : argmin(a, keepdims, s);
}

array scan_op(const char* name, const array& a, std::optional<int> axis, bool reverse, bool inclusive,
              StreamOrDevice s) {
  std::string n = name;
  auto pick = [&](auto f_axis, auto f_all) { return axis ? f_axis(a, *axis, reverse, inclusive, s) : f_all(a, reverse, inclusive, s); };
  using A = array (*)(const array&, int, bool, bool, StreamOrDevice);
  using F = array (*)(const array&, bool, bool, StreamOrDevice);
  if (n == "cumsum") return pick(static_cast<A>(&cumsum), static_cast<F>(&cumsum));
  if (n == "cumprod") return pick(static_cast<A>(&cumprod), static_cast<F>(&cumprod));
  if (n == "cummax") return pick(static_cast<A>(&cummax), static_cast<F>(&cummax));
  if (n == "cummin") return pick(static_cast<A>(&cummin), static_cast<F>(&cummin));
  throw std::invalid_argument("[scan] unknown scan " + n + ".");
}

}  // namespace txpy

#define TX_REDUCE(NAME, DOC)                                                                                  \
  m.def(#NAME,                                                                                                 \
        [](const ArrayLike& a, OptAxes axis, bool keepdims, StreamOrDevice s) {                               \
          return txpy::reduce_op(#NAME, txpy::to_array(a), axis, keepdims, s);                                 \
        },                                                                                                     \
        "a"_a, "axis"_a = nb::none(), "keepdims"_a = false, TX_STREAM, DOC)

#define TX_SCAN(NAME, DOC)                                                                                    \
  m.def(#NAME,                                                                                                 \
        [](const ArrayLike& a, std::optional<int> axis, bool reverse, bool inclusive, StreamOrDevice s) {     \
          return txpy::scan_op(#NAME, txpy::to_array(a), axis, reverse, inclusive, s);                         \
        },                                                                                                     \
        "a"_a, "axis"_a = nb::none(), nb::kw_only(), "reverse"_a = false, "inclusive"_a = true,               \
        "stream"_a = nb::none(), DOC)

void init_reduce(nb::module_& m) {
  TX_REDUCE(sum, "Sum over ``axis`` (all axes when None).");
  TX_REDUCE(prod, "Product over ``axis`` (all axes when None).");
  TX_REDUCE(max, "Maximum over ``axis`` (all axes when None).");
  TX_REDUCE(min, "Minimum over ``axis`` (all axes when None).");
  TX_REDUCE(mean, "Mean over ``axis`` (all axes when None).");
  TX_REDUCE(all, "True where all elements over ``axis`` are nonzero.");
  TX_REDUCE(any, "True where any element over ``axis`` is nonzero.");
  TX_REDUCE(logsumexp, "log(sum(exp(a))) over ``axis``, computed stably.");
  m.def("var",
        [](const ArrayLike& a, OptAxes axis, bool keepdims, int ddof, StreamOrDevice s) {
          return txpy::var_op(false, txpy::to_array(a), axis, keepdims, ddof, s);
        },
        "a"_a, "axis"_a = nb::none(), "keepdims"_a = false, "ddof"_a = 0, TX_STREAM,
        "Variance over ``axis`` (divides by n - ddof).");
  m.def("std",
        [](const ArrayLike& a, OptAxes axis, bool keepdims, int ddof, StreamOrDevice s) {
          return txpy::var_op(true, txpy::to_array(a), axis, keepdims, ddof, s);
        },
        "a"_a, "axis"_a = nb::none(), "keepdims"_a = false, "ddof"_a = 0, TX_STREAM,
        "Standard deviation over ``axis`` (divides by n - ddof).");
  m.def("argmax",
        [](const ArrayLike& a, std::optional<int> axis, bool keepdims, StreamOrDevice s) {
          return txpy::arg_reduce_op(true, txpy::to_array(a), axis, keepdims, s);
        },
        "a"_a, "axis"_a = nb::none(), "keepdims"_a = false, TX_STREAM,
        "uint32 index of the first maximum along ``axis`` (of the flattened array when None).");
  m.def("argmin",
        [](const ArrayLike& a, std::optional<int> axis, bool keepdims, StreamOrDevice s) {
          return txpy::arg_reduce_op(false, txpy::to_array(a), axis, keepdims, s);
        },
        "a"_a, "axis"_a = nb::none(), "keepdims"_a = false, TX_STREAM,
        "uint32 index of the first minimum along ``axis`` (of the flattened array when None).");
  TX_SCAN(cumsum, "Cumulative sum along ``axis`` (of the flattened array when None).");
  TX_SCAN(cumprod, "Cumulative product along ``axis`` (of the flattened array when None).");
  TX_SCAN(cummax, "Cumulative maximum along ``axis`` (of the flattened array when None).");
  TX_SCAN(cummin, "Cumulative minimum along ``axis`` (of the flattened array when None).");
  m.def("softmax",
        [](const ArrayLike& a, OptAxes axis, bool precise, StreamOrDevice s) {
          array x = txpy::to_array(a);
          return softmax(x, txpy::to_axes(x, axis), precise, s);
        },
        "a"_a, "axis"_a = nb::none(), nb::kw_only(), "precise"_a = false, "stream"_a = nb::none(),
        "Softmax over ``axis`` (all axes when None).");
  m.def("log_softmax",
        [](const ArrayLike& a, OptAxes axis, bool precise, StreamOrDevice s) {
          array x = txpy::to_array(a);
          return log_softmax(x, txpy::to_axes(x, axis), precise, s);
        },
        "a"_a, "axis"_a = nb::none(), nb::kw_only(), "precise"_a = false, "stream"_a = nb::none(),
        "a - logsumexp(a, axis, keepdims=True), fused.");
}
