// Bindings for tessera/ops/sort.h: sort, argsort, partition, argpartition, topk.
#include "utils.h"

using namespace tessera;
using txpy::to_array;

void init_sort(nb::module_& m) {
  m.def("sort",
        [](const ArrayLike& a, std::optional<int> axis, StreamOrDevice s) {
          return axis ? sort(to_array(a), *axis, s) : sort(to_array(a), s);
        },
        "a"_a, "axis"_a.none() = -1, TX_STREAM, "Sorted along ``axis`` (the flattened array when None).");
  m.def("argsort",
        [](const ArrayLike& a, std::optional<int> axis, StreamOrDevice s) {
          return axis ? argsort(to_array(a), *axis, s) : argsort(to_array(a), s);
        },
        "a"_a, "axis"_a.none() = -1, TX_STREAM, "uint32 indices that sort along ``axis`` (stable).");
  m.def("partition",
        [](const ArrayLike& a, int kth, std::optional<int> axis, StreamOrDevice s) {
          return axis ? partition(to_array(a), kth, *axis, s) : partition(to_array(a), kth, s);
        },
        "a"_a, "kth"_a, "axis"_a.none() = -1, TX_STREAM,
        "Element ``kth`` in its sorted place, smaller ones before, larger after.");
  m.def("argpartition",
        [](const ArrayLike& a, int kth, std::optional<int> axis, StreamOrDevice s) {
          return axis ? argpartition(to_array(a), kth, *axis, s) : argpartition(to_array(a), kth, s);
        },
        "a"_a, "kth"_a, "axis"_a.none() = -1, TX_STREAM, "Indices that partition along ``axis``.");
  m.def("topk",
        [](const ArrayLike& a, int k, std::optional<int> axis, StreamOrDevice s) {
          return axis ? topk(to_array(a), k, *axis, s) : topk(flatten(to_array(a)), k, 0, s);
        },
        "a"_a, "k"_a, "axis"_a.none() = -1, TX_STREAM, "The ``k`` largest values along ``axis`` (unordered).");
}
