// CPU kernels for Sort/ArgSort/Partition/ArgPartition: each line along the axis is gathered into a
// buffer, sorted (or nth_element'd) with NaNs last, and scattered back; lines run in parallel.
#include <algorithm>
#include <numeric>
#include <vector>

#include "tessera/backend/cpu/reduce_utils.h"
#include "tessera/backend/cpu/threading.h"
#include "tessera/primitives/sort.h"

namespace tessera {

namespace {

enum class Mode { Sort, ArgSort, Partition, ArgPartition };

// Strict weak order with NaN greater than everything (NumPy's sort order).
template <typename T>
bool less_nan_last(T a_in, T b_in) {
  if constexpr (std::is_same_v<T, complex64_t>) {
    return a_in.real() < b_in.real() || (a_in.real() == b_in.real() && a_in.imag() < b_in.imag());
  } else {
    using A = acc_t<T>;
    A a = static_cast<A>(a_in), b = static_cast<A>(b_in);
    if constexpr (std::is_floating_point_v<A>) return a < b || (b != b && a == a);
    else return a < b;
  }
}

template <typename T>
void sort_lines(const array& in, array& out, int axis, Mode mode, int kth) {
  cpu::AxisLayout L(in.shape(), axis);
  const T* src = in.data<T>();
  const size_t n = L.n, inner = L.inner, lines = L.outer * L.inner;
  const bool arg = mode == Mode::ArgSort || mode == Mode::ArgPartition;
  cpu::parallel_for(lines, std::max<size_t>(1, (1 << 12) / std::max<size_t>(n, 1)), [&](size_t b, size_t e) {
    std::vector<T> vals(n);
    std::vector<uint32_t> idx(arg ? n : 0);
    for (size_t line = b; line < e; ++line) {
      size_t o = line / inner, i = line % inner;
      size_t base = o * n * inner + i;
      for (size_t j = 0; j < n; ++j) vals[j] = src[base + j * inner];
      if (arg) {
        std::iota(idx.begin(), idx.end(), 0u);
        auto cmp = [&](uint32_t x, uint32_t y) { return less_nan_last(vals[x], vals[y]); };
        if (mode == Mode::ArgSort) std::stable_sort(idx.begin(), idx.end(), cmp);
        else std::nth_element(idx.begin(), idx.begin() + kth, idx.end(), cmp);
        uint32_t* dst = out.data<uint32_t>();
        for (size_t j = 0; j < n; ++j) dst[base + j * inner] = idx[j];
      } else {
        if (mode == Mode::Sort) std::sort(vals.begin(), vals.end(), less_nan_last<T>);
        else std::nth_element(vals.begin(), vals.begin() + kth, vals.end(), less_nan_last<T>);
        T* dst = out.data<T>();
        for (size_t j = 0; j < n; ++j) dst[base + j * inner] = vals[j];
      }
    }
  });
}

void run(const std::vector<array>& inputs, std::vector<array>& outputs, int axis, Mode mode, int kth) {
  array in = cpu::row_contiguous_input(inputs[0]);
  array& out = outputs[0];
  out.set_data(allocator::malloc(out.nbytes()));
  if (out.size() == 0) return;
  dispatch_dtype(in.dtype(), [&](auto t) { sort_lines<decltype(t)>(in, out, axis, mode, kth); });
}

}  // namespace

void Sort::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  run(inputs, outputs, axis_, Mode::Sort, 0);
}
void ArgSort::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  run(inputs, outputs, axis_, Mode::ArgSort, 0);
}
void Partition::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  run(inputs, outputs, axis_, Mode::Partition, kth_);
}
void ArgPartition::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  run(inputs, outputs, axis_, Mode::ArgPartition, kth_);
}

bool Sort::is_equivalent(const Primitive& o) const { return axis_ == static_cast<const Sort&>(o).axis_; }
bool ArgSort::is_equivalent(const Primitive& o) const { return axis_ == static_cast<const ArgSort&>(o).axis_; }
bool Partition::is_equivalent(const Primitive& o) const {
  auto& r = static_cast<const Partition&>(o);
  return axis_ == r.axis_ && kth_ == r.kth_;
}
bool ArgPartition::is_equivalent(const Primitive& o) const {
  auto& r = static_cast<const ArgPartition&>(o);
  return axis_ == r.axis_ && kth_ == r.kth_;
}

}  // namespace tessera
